//go:build unix

package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// snapshotName names the export inside DataDir/firestore. The emulator's
// import wants the metadata file, not the directory, so the name is fixed
// to find it again.
const snapshotName = "snapshot"

// firestoreData saves one project of a Firestore emulator into dir.
type firestoreData struct {
	dir        string // absolute DataDir/firestore
	project    string
	importFile string // metadata file to import at start; "" when none
}

// dataSubdir resolves DataDir/name absolutely, because the emulator
// resolves relative paths against its own working directory.
func dataSubdir(dataDir, name string) string {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	return filepath.Join(dataDir, name)
}

func prepareFirestoreData(dataDir, project string) (*firestoreData, error) {
	d := &firestoreData{dir: dataSubdir(dataDir, "firestore"), project: project}
	// A crash between the two renames of export leaves only the old
	// snapshot aside; take it back.
	if _, err := os.Stat(d.dir); errors.Is(err, os.ErrNotExist) && isDir(d.dir+".old") {
		if err := os.Rename(d.dir+".old", d.dir); err != nil {
			return nil, fmt.Errorf("emulator: restore firestore data: %w", err)
		}
	}
	meta := filepath.Join(d.dir, snapshotName, snapshotName+".overall_export_metadata")
	if _, err := os.Stat(meta); err == nil {
		d.importFile = meta
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("emulator: firestore data: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(d.dir), 0o755); err != nil {
		return nil, fmt.Errorf("emulator: firestore data dir: %w", err)
	}
	return d, nil
}

// export writes the project's documents to a staging directory and swaps
// it in, so a failed export never destroys the previous snapshot. This
// stands in for gcloud's --export-on-exit, which saves nothing: the
// emulator ignores it on SIGTERM and fails on its own /shutdown.
func (d *firestoreData) export(host string) error {
	staging := d.dir + ".tmp"
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("export firestore: %w", err)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return fmt.Errorf("export firestore: %w", err)
	}
	body, _ := json.Marshal(map[string]string{
		"database":         "projects/" + d.project + "/databases/(default)",
		"export_directory": staging,
		"export_name":      snapshotName,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u := "http://" + host + "/emulator/v1/projects/" + url.PathEscape(d.project) + ":export"
	if err := call(ctx, http.MethodPost, u, body); err != nil {
		os.RemoveAll(staging)
		return fmt.Errorf("export firestore project %s: %w", d.project, err)
	}
	old := d.dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("export firestore: %w", err)
	}
	if err := os.Rename(d.dir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("export firestore: %w", err)
	}
	if err := os.Rename(staging, d.dir); err != nil {
		return fmt.Errorf("export firestore: %w", err)
	}
	return os.RemoveAll(old)
}

// ResetFirestore deletes every document of project's default database
// on the Firestore emulator at host, so a test can start from nothing.
func ResetFirestore(ctx context.Context, host, project string) error {
	u := "http://" + host + "/emulator/v1/projects/" + url.PathEscape(project) + "/databases/(default)/documents"
	if err := call(ctx, http.MethodDelete, u, nil); err != nil {
		return fmt.Errorf("emulator: reset firestore project %s on %s: %w", project, host, err)
	}
	return nil
}

// call sends one request to an emulator's admin API and wants 200.
func call(ctx context.Context, method, u string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
