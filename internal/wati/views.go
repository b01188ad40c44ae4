package wati

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/templategw/templategw/internal/domain"
)

// timeFormat is how answers write times: UTC with milliseconds, as Wati's
// own answers do.
const timeFormat = "2006-01-02T15:04:05.000Z"

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// paramView is one custom param as Wati lists them.
type paramView struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// contactView is a contact in Wati's shape. Phone numbers are shown whole:
// a Wati client finds its contacts by them.
type contactView struct {
	ID            string      `json:"id"`
	WAID          string      `json:"wAid"`
	Phone         string      `json:"phone"`
	FullName      string      `json:"fullName"`
	FirstName     string      `json:"firstName"`
	ContactStatus string      `json:"contactStatus"`
	CustomParams  []paramView `json:"customParams"`
	// OptedIn is Wati's marketing consent flag: false once the contact
	// opted out of marketing (by STOP, Meta's user_preferences or 131050).
	OptedIn     bool   `json:"optedIn"`
	Created     string `json:"created"`
	LastUpdated string `json:"lastUpdated"`
}

// contactStatusValid is Wati's status of a contact the gateway can send to.
const contactStatusValid = "VALID"

func viewContact(c domain.Contact) contactView {
	v := contactView{
		ID: c.Phone, WAID: c.Phone, Phone: c.Phone, FullName: c.FullName(), FirstName: c.FirstName,
		ContactStatus: contactStatusValid, CustomParams: []paramView{}, OptedIn: !c.Marketing.Out,
		Created: stamp(c.CreatedAt), LastUpdated: stamp(c.UpdatedAt),
	}
	if v.FirstName == "" {
		v.FirstName, _, _ = strings.Cut(v.FullName, " ")
	}
	names := make([]string, 0, len(c.CustomParams))
	for k := range c.CustomParams {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v.CustomParams = append(v.CustomParams, paramView{Name: k, Value: c.CustomParams[k]})
	}
	return v
}

// link is Wati's paging block.
type link struct {
	PrevPage   *string `json:"prevPage"`
	NextPage   *string `json:"nextPage"`
	PageNumber int     `json:"pageNumber"`
	PageSize   int     `json:"pageSize"`
	Total      int     `json:"total"`
}

// linkOf pages the request; no next page is offered past depth items
// (see page). The previous and next pages are relative
// references ("?pageNumber=3&…"), which resolve against the request's own
// URL whatever prefix the front door or a proxy adds to the path.
func linkOf(r *http.Request, size, number, total, depth int) link {
	l := link{PageNumber: number, PageSize: size, Total: total}
	at := func(n int) *string {
		q := r.URL.Query()
		q.Set("pageNumber", strconv.Itoa(n))
		q.Set("pageSize", strconv.Itoa(size))
		s := "?" + q.Encode()
		return &s
	}
	if number > 1 {
		l.PrevPage = at(number - 1)
	}
	if number*size < total && number < depth/size {
		l.NextPage = at(number + 1)
	}
	return l
}
