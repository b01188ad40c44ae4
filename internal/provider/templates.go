package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/templategw/templategw/internal/domain"
)

// templateFields are the fields template sync needs (REFERENCE §5).
const templateFields = "name,status,category,language,components,parameter_format"

// pageSize asks for large pages: a sync reads every template anyway.
const pageSize = 100

// maxPages stops a server whose cursors never end from looping a sync
// forever: 1,000 pages of 100 is far beyond Meta's per-WABA template cap.
const maxPages = 1000

type templatePage struct {
	Data   []domain.Template `json:"data"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

// ListTemplates reads every message template of a WhatsApp Business
// Account, following paging.cursors.after until Meta gives no next page.
// Its error is an *Error; a list is only read, so every transport failure
// is Retryable.
func (c *Client) ListTemplates(ctx context.Context, wabaID, accessToken string) ([]domain.Template, error) {
	ts, err := c.listTemplates(ctx, wabaID, accessToken)
	if err != nil {
		return nil, fmt.Errorf("list templates of WABA %s: %w", wabaID, err)
	}
	return ts, nil
}

func (c *Client) listTemplates(ctx context.Context, wabaID, accessToken string) ([]domain.Template, error) {
	if wabaID == "" || accessToken == "" {
		return nil, &Error{Class: Permanent, Title: "WABA id and access token are required"}
	}
	// The cursor, not paging.next, drives the loop: next is an absolute URL
	// on whatever host Meta chose and, from Meta, carries the access token
	// in its query, which must not be sent or logged as a URL.
	out := []domain.Template{}
	seen := map[string]bool{}
	after := ""
	for page := 0; page < maxPages; page++ {
		q := url.Values{"fields": {templateFields}, "limit": {fmt.Sprint(pageSize)}}
		if after != "" {
			q.Set("after", after)
		}
		ans, err := c.do(ctx, http.MethodGet, c.endpoint(url.PathEscape(wabaID), "message_templates")+"?"+q.Encode(), accessToken, nil, Retryable)
		if err != nil {
			return nil, err
		}
		if ans.status < 200 || ans.status > 299 {
			return nil, decodeError(ans.status, ans.body)
		}
		var p templatePage
		if err := json.Unmarshal(ans.body, &p); err != nil {
			return nil, &Error{HTTPStatus: ans.status, Class: Retryable, Title: "template page is not JSON", Details: err.Error(), cause: err}
		}
		out = append(out, p.Data...)
		next := p.Paging.Cursors.After
		if p.Paging.Next == "" || next == "" {
			return out, nil
		}
		if seen[next] {
			return nil, &Error{HTTPStatus: ans.status, Class: Permanent, Title: "template paging repeats a cursor"}
		}
		seen[next] = true
		after = next
	}
	return nil, &Error{Class: Permanent, Title: fmt.Sprintf("template paging did not end after %d pages", maxPages)}
}
