package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/logging"
	"github.com/templategw/templategw/internal/store"
)

// maxTitle bounds the text of an error Meta reports, kept on the message
// and written to logs: Meta's titles are a few words.
const maxTitle = 512

// status applies one status. The message is found by the gateway id Meta
// echoes back (biz_opaque_callback_data), which costs no read of its
// own; a query for the tenant's message with that provider id (one read)
// is the fallback, for a status without it or naming no message of the
// tenant's. Either way
// the message takes only its own send's statuses (domain.Message.Owns).
// Whether the recipient is a number (recipient_id) or a business-scoped
// user id (recipient_user_id) plays no part.
func (s *Server) status(ctx context.Context, log *slog.Logger, line store.Line, st status, received time.Time) error {
	// Meta's wamid embeds the recipient's number (base64): the lines carry
	// its fingerprint, which dispatch's lines share.
	log = log.With("wamidHash", logging.Fingerprint(st.ID), "status", domain.Clip(st.Status, 32))
	to, ok := domain.ParseUpdateStatus(st.Status)
	if !ok {
		log.Info("status not tracked, ignored")
		return nil
	}
	if !store.ValidID(st.ID) {
		// It would become the message's provider id and name a document.
		log.Warn("status with an unusable wamid ignored")
		return nil
	}
	u := domain.Update{ProviderMessageID: st.ID, Status: to, At: eventTime(log, st.Timestamp, received)}
	u.Error = statusError(log, st.Errors)
	u.Pricing = statusPricing(log, st.Pricing)
	// The tenant from the catalog's cache spares the store a read of it
	// when a conversation opens; without it, the store reads it.
	if t, err := s.lines.Tenant(ctx, line.Tenant); err == nil {
		u.Tenant = &t
	}
	m, changed, err := s.applyStatus(ctx, log, line, st, u)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("status for an unknown message ignored")
		return nil
	}
	if err != nil {
		return err
	}
	if !changed {
		log.Debug("duplicate or late status ignored", "messageId", m.ID, "current", string(m.Status))
		return nil
	}
	logging.Transition(ctx, logging.Moved(logging.SourceWebhook, m, logging.PreviousStatus(m)))
	if s.notify != nil {
		s.notify.Notify(ctx, m)
	}
	if m.Status == domain.StatusFailed {
		return s.stoppedMarketing(ctx, log, m, u.At)
	}
	return nil
}

// applyStatus applies u to the message st is about: the one its callback
// data names, else the tenant's message that has its wamid. ErrNotFound
// when neither is the tenant's.
func (s *Server) applyStatus(ctx context.Context, log *slog.Logger, line store.Line, st status, u domain.Update) (domain.Message, bool, error) {
	if id := st.CallbackData; store.ValidID(id) {
		m, changed, err := s.store.ApplyUpdate(ctx, line.Tenant, id, u)
		if !errors.Is(err, store.ErrNotFound) {
			return m, changed, err
		}
	}
	id, err := s.store.MessageOfWAMID(ctx, line.Tenant, st.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return domain.Message{}, false, err
	case err != nil:
		return domain.Message{}, false, fmt.Errorf("find message of wamid %s: %w", logging.Fingerprint(st.ID), err)
	}
	return s.store.ApplyUpdate(ctx, line.Tenant, id, u)
}

// statusError is the first of a status's errors, nil when it has none or
// they cannot be read (the status still applies, without a reason).
func statusError(log *slog.Logger, raw json.RawMessage) *domain.MessageError {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var errs []metaError
	if err := json.Unmarshal(raw, &errs); err != nil {
		log.Warn("unreadable errors of a status ignored", "error", err.Error())
		return nil
	}
	if len(errs) == 0 {
		return nil
	}
	return &domain.MessageError{Code: errs[0].Code, Title: domain.Clip(errs[0].Title, maxTitle)}
}

// statusPricing is a status's pricing, nil when it has none or it cannot
// be read.
func statusPricing(log *slog.Logger, raw json.RawMessage) *domain.Pricing {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var p pricing
	if err := json.Unmarshal(raw, &p); err != nil {
		log.Warn("unreadable pricing of a status ignored", "error", err.Error())
		return nil
	}
	dp := domain.NewPricing(p.Billable, p.PricingModel, p.Category, p.Type)
	return &dp
}
