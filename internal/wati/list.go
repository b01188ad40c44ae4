package wati

import (
	"errors"
	"net/http"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// maxContactDepth is where getContacts' pages end: a page skips the
// contacts before it, and skipping costs reads.
const maxContactDepth = 1_000_000

type contactsAnswer struct {
	Result      string        `json:"result"`
	ContactList []contactView `json:"contact_list"`
	Link        link          `json:"link"`
}

// getContacts serves GET getContacts: the tenant's contacts in
// phone-number order, a page at a time, narrowed by name, attribute and
// createdDate. Without filters a page reads only itself (and a count);
// a filter that pins one phone number reads that contact; any other filter
// reads every contact of the tenant to find and count the matches.
func (s *Server) getContacts(w http.ResponseWriter, r *http.Request, tok domain.Token) error {
	var errs domain.FieldErrors
	size, number := page(r, defaultPageSize, maxPageSize, maxContactDepth, &errs)
	f := parseFilter(r.URL.Query(), &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	ctx, offset := r.Context(), (number-1)*size
	var list []domain.Contact
	total := 0
	phone, pinned := f.exactPhone()
	switch {
	case pinned && phone == "":
	case pinned:
		c, err := s.store.Contact(ctx, tok.Tenant, phone)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && f.match(c) {
			total = 1
			if offset == 0 {
				list = append(list, c)
			}
		}
	case f.empty():
		var err error
		if list, err = s.store.ContactsPage(ctx, tok.Tenant, offset, size); err != nil {
			return err
		}
		if total, err = s.store.CountContacts(ctx, tok.Tenant); err != nil {
			return err
		}
	default:
		err := s.store.EachContact(ctx, tok.Tenant, func(c domain.Contact) (bool, error) {
			if f.match(c) {
				if total >= offset && total < offset+size {
					list = append(list, c)
				}
				total++
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	a := contactsAnswer{Result: "success", ContactList: make([]contactView, 0, len(list)), Link: linkOf(r, size, number, total, maxContactDepth)}
	for _, c := range list {
		a.ContactList = append(a.ContactList, viewContact(c))
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}
