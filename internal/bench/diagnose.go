package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/templategw/templategw/internal/demo"
	"github.com/templategw/templategw/internal/domain"
	"github.com/templategw/templategw/internal/store"
)

// storeWork measures the gateway's own Firestore work per message, without
// HTTP, Pub/Sub or the provider: the store's Accept (the conversation read
// and the one commit accept makes), then its Claim and SettleClaimed (dispatch's
// two transactions), driven from this process through the proxy at the
// highest concurrency. Set beside the raw baselines it tells how much of a
// gap is the gateway's Firestore writes and how much everything else.
func (b *Bench) storeWork(ctx context.Context) error {
	c := b.top()
	st := store.New(b.fsRaw)
	// A tenant of the run's own, so these messages are never the demo's.
	tenant := "bench-" + b.runID
	tpl, err := b.sampleTemplate(ctx)
	if err != nil {
		return err
	}

	var (
		mu       sync.Mutex
		accepted []string
	)
	r, err := b.closedPhase(ctx, "store-accept", "the gateway's Firestore work alone: accept", c, false, func(ctx context.Context, i int) error {
		now := time.Now().UTC()
		phone := b.direct.full(400_000 + i)
		if _, err := st.Conversation(ctx, tenant, demo.ChannelID, phone); err != nil {
			return err
		}
		m := domain.NewMessage(store.NewID(), tenant, demo.ChannelID, phone, "welcome", tpl, now)
		err := st.Accept(ctx, store.Acceptance{Message: m, Contact: domain.Contact{Phone: phone, FirstName: "Cliente", Name: "Cliente", UpdatedAt: now}})
		if err == nil {
			mu.Lock()
			accepted = append(accepted, m.ID)
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		return err
	}
	b.fig.StoreAcceptPerSec = round(r.perSec(), 0)

	r, err = b.closedPhase(ctx, "store-dispatch", "the gateway's Firestore work alone: claim and outcome", c, false, func(ctx context.Context, i int) error {
		if i >= len(accepted) {
			return fmt.Errorf("no accepted message left")
		}
		id := accepted[i]
		m, err := st.Claim(ctx, tenant, id, time.Now().UTC(), time.Minute)
		if err != nil {
			return err
		}
		_, err = st.SettleClaimed(ctx, m, func(msg *domain.Message, conv domain.Conversation) error {
			msg.ProviderMessageID = "wamid.bench-" + id
			return msg.Move(domain.StatusPending, time.Now().UTC())
		})
		return err
	})
	if err != nil {
		return err
	}
	b.fig.StoreDispatchPerSec = round(r.perSec(), 0)
	both := round(1/(1/b.fig.StoreAcceptPerSec+1/b.fig.StoreDispatchPerSec), 0)
	b.fig.StorePipelinePerSec = both
	return nil
}

// sampleTemplate is the rendered template a gateway send stores, read back
// from the warm-up's message, so the store phases write what accept
// writes.
func (b *Bench) sampleTemplate(ctx context.Context) (domain.TemplateMessage, error) {
	m, err := store.New(b.fsRead).Message(ctx, demo.TenantID, b.warmID)
	if err != nil {
		return domain.TemplateMessage{}, fmt.Errorf("read the warm-up message: %w", err)
	}
	return m.Template, nil
}

// perOp turns a phase's CPU use into milliseconds of each process's CPU
// per operation of that phase.
func (b *Bench) perOp(phase string, ops int) {
	cores, wall := b.fig.CPU[phase], b.wall[phase]
	if ops == 0 || wall == 0 || cores == nil {
		return
	}
	out := map[string]float64{}
	for name, c := range cores {
		if name == "machine" || c < 0.005 {
			continue
		}
		out[name] = round(c*wall*1000/float64(ops), 2)
	}
	b.fig.CPUPerOp[phase] = out
}
