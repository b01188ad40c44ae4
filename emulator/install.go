//go:build unix

package emulator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// install describes what one emulator needs from the gcloud installation.
type install struct {
	title     string // as gcloud names it
	platform  string // directory under SDK_ROOT/platform
	component string // gcloud components install …
	aptPkg    string // apt-get install … (for CLIs installed from apt)
	beta      bool   // started through `gcloud beta`
}

var (
	firestoreInstall = install{
		title:     "Cloud Firestore emulator",
		platform:  "cloud-firestore-emulator",
		component: "cloud-firestore-emulator",
		aptPkg:    "google-cloud-cli-firestore-emulator",
	}
	pubsubInstall = install{
		title:     "Cloud Pub/Sub emulator",
		platform:  "pubsub-emulator",
		component: "pubsub-emulator",
		aptPkg:    "google-cloud-cli-pubsub-emulator",
		beta:      true,
	}
)

// preflight checks gcloud, the emulator component and java before
// anything starts: a missing component would otherwise make gcloud try to
// install it, and a missing java fails deep inside the wrapper. It
// returns the gcloud executable.
func preflight(in install) (string, error) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		return "", errors.New("emulator: gcloud (the Google Cloud CLI) is not on PATH; install it from https://cloud.google.com/sdk/docs/install (Debian/Ubuntu: apt-get install google-cloud-cli), then add its bin directory to PATH")
	}
	root, err := sdkRoot(gcloud)
	if err != nil {
		return "", err
	}
	if !isDir(filepath.Join(root, "platform", in.platform)) {
		return "", fmt.Errorf("emulator: the %s is not installed (no %s); install it with `gcloud components install %s`, or where the CLI came from apt, `apt-get install %s`",
			in.title, filepath.Join(root, "platform", in.platform), in.component, in.aptPkg)
	}
	if in.beta && !isDir(filepath.Join(root, "lib", "surface", "beta")) {
		return "", fmt.Errorf("emulator: the %s needs the `gcloud beta` commands, which are not installed (no %s); install them with `gcloud components install beta` (apt installs of google-cloud-cli include them)",
			in.title, filepath.Join(root, "lib", "surface", "beta"))
	}
	if _, err := exec.LookPath("java"); err != nil {
		return "", fmt.Errorf("emulator: java is not on PATH, and the %s runs on Java (11 or newer, 21 recommended); install a JRE, e.g. `apt-get install openjdk-17-jre-headless`, and put its java on PATH", in.title)
	}
	return gcloud, nil
}

// sdkRoot finds the Cloud SDK root from the gcloud executable, which
// normally is (a link to) ROOT/bin/gcloud; for other layouts it asks
// gcloud, which costs a second.
func sdkRoot(gcloud string) (string, error) {
	if real, err := filepath.EvalSymlinks(gcloud); err == nil {
		root := filepath.Dir(filepath.Dir(real))
		if isDir(filepath.Join(root, "platform")) {
			return root, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, gcloud, "info", "--format=value(installation.sdk_root)").Output()
	root := strings.TrimSpace(string(out))
	if err != nil || root == "" {
		return "", fmt.Errorf("emulator: cannot find the Cloud SDK root of %s (`gcloud info` failed: %v); reinstall the Google Cloud CLI from https://cloud.google.com/sdk/docs/install", gcloud, err)
	}
	return root, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
