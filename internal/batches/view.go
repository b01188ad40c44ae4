package batches

import (
	"time"

	"github.com/templategw/templategw/internal/batch"
	"github.com/templategw/templategw/internal/domain"
)

// View is a broadcast as the API shows it. id is the code its send
// answered (emkt's <return>, Wati's batchId): the only name a client
// knows it by. Times absent from the answer have not happened.
type View struct {
	ID         string            `json:"id"`
	Source     string            `json:"source"`
	Name       string            `json:"name,omitempty"`
	Channel    string            `json:"channel"`
	TemplateID string            `json:"templateId"`
	State      domain.BatchState `json:"state"`
	Recipients int               `json:"recipients"`
	Duplicates int               `json:"duplicates"`
	// Counts, Rate and ETA are left out of a listing, which reads no
	// message.
	Counts     *batch.Counts `json:"counts,omitempty"`
	Rate       *float64      `json:"rate,omitempty"`
	ETA        *time.Time    `json:"eta,omitempty"`
	CreatedAt  time.Time     `json:"createdAt"`
	SendAt     *time.Time    `json:"sendAt,omitempty"`
	StartedAt  *time.Time    `json:"startedAt,omitempty"`
	FinishedAt *time.Time    `json:"finishedAt,omitempty"`
}

// ListView is a page of broadcasts, newest first.
type ListView struct {
	Batches       []View `json:"batches"`
	NextPageToken string `json:"nextPageToken,omitempty"`
}

// ViewOf renders a broadcast.
func ViewOf(p batch.Progress) View {
	v := View{
		ID: p.Code, Source: p.Source, Name: p.Name, Channel: p.Channel, TemplateID: p.TemplateID,
		State: p.State, Recipients: p.Recipients, Duplicates: p.Duplicates, Counts: p.Counts,
		CreatedAt: p.CreatedAt, SendAt: when(p.SendAt), StartedAt: when(p.StartedAt), FinishedAt: when(p.FinishedAt),
		ETA: when(p.ETA),
	}
	if p.Counts != nil {
		rate := p.Rate
		v.Rate = &rate
	}
	return v
}

func when(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
