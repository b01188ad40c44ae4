// Package provider is templategw's client of Meta's WhatsApp Cloud API: it
// sends template messages and reads a WABA's templates, and classifies every
// failure so dispatch knows whether a send may be repeated.
package provider

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// Defaults for zero Config fields.
const (
	DefaultBaseURL = "https://graph.facebook.com"
	DefaultVersion = "v24.0"
	DefaultTimeout = 20 * time.Second
)

// maxAnswer bounds what is read of an answer; Meta's are small, and a
// misbehaving proxy must not exhaust memory.
const maxAnswer = 4 << 20

// Config says where Meta is and how long one call may take.
type Config struct {
	BaseURL string        // e.g. https://graph.facebook.com; DefaultBaseURL when empty
	Version string        // e.g. v24.0; DefaultVersion when empty
	Timeout time.Duration // per call (one page of a list); DefaultTimeout when 0
}

// Client calls Meta's Cloud API. It is safe for concurrent use.
type Client struct {
	cfg Config
	hc  *http.Client
}

// New returns a client for cfg. With hc nil it uses its own pooled client;
// the per-call timeout always comes from cfg.Timeout, applied through the
// call's context.
func New(cfg Config, hc *http.Client) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	cfg.Version = strings.Trim(cfg.Version, "/")
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if hc == nil {
		hc = defaultHTTPClient()
	}
	return &Client{cfg: cfg, hc: hc}
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Dispatch sends to one host at up to 1,000 messages/s; the default of
	// two idle connections per host would redial for nearly every send.
	t.MaxIdleConnsPerHost = 256
	return &http.Client{
		Transport: t,
		// A redirected POST could be replayed by the redirect; Meta does
		// not redirect API calls, so take any redirect as the answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// answer is one HTTP exchange with Meta.
type answer struct {
	status int
	body   []byte
	header http.Header
}

// do makes one call with the per-call timeout. A failure before the request
// was fully written is Retryable: Meta cannot have acted on it. A failure
// after it (no answer, a broken connection, an unreadable answer) is
// unsafeAfterWrite's class, because Meta may have acted on it.
func (c *Client) do(ctx context.Context, method, target, token string, body []byte, unsafeAfterWrite Class) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	// WroteRequest with no error means every byte reached the socket: only
	// then can Meta have received the whole request and acted on it.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, target, rd)
	if err != nil {
		return answer{}, &Error{Class: Permanent, Title: "bad request URL", cause: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, transportError(err, wrote.Load(), unsafeAfterWrite)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return answer{}, &Error{HTTPStatus: resp.StatusCode, Class: unsafeAfterWrite,
			Title: "answer could not be read", Details: cleanCause(err), cause: err}
	}
	return answer{status: resp.StatusCode, body: data, header: resp.Header}, nil
}

func transportError(err error, wrote bool, unsafeAfterWrite Class) *Error {
	if wrote {
		return &Error{Class: unsafeAfterWrite, Title: "no answer after the request was sent", Details: cleanCause(err), cause: err}
	}
	return &Error{Class: Retryable, Title: "request not sent", Details: cleanCause(err), cause: err}
}

// cleanCause describes a transport error without its URL: the error is
// logged, and the URL names ids a log line does not need.
func cleanCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

func (c *Client) endpoint(parts ...string) string {
	return c.cfg.BaseURL + "/" + c.cfg.Version + "/" + strings.Join(parts, "/")
}

// mask keeps a phone number's last four digits, enough to find it again in
// the sandbox's failure table or a support ticket, too few to identify.
func mask(phone string) string { return domain.MaskPhone(phone) }
