package pacing

import (
	"container/heap"
	"container/list"
	"time"
)

// waiter is one acquisition waiting for a token.
type waiter struct {
	class    Class
	tenant   string
	enqueued int64 // ms
	deadline int64 // ms: past it the waiter is told to try later
	done     chan verdict

	elem  *list.Element // in its class's (and tenant's) list
	index int           // in the deadline heap
}

// verdict ends an acquisition.
type verdict struct {
	ok    bool
	retry time.Duration
	err   error
}

// fairQueue orders waiting acquisitions: every single send before any bulk
// send, and bulk sends round robin by tenant, so a tenant with 100,000
// waiting messages and a tenant with ten take turns. Its methods read no
// clock.
type fairQueue struct {
	singles list.List
	bulk    map[string]*list.List
	turns   []string // tenants with bulk waiting, in serving order
	next    int      // index in turns of the tenant served next
	byTime  deadlines
}

func (q *fairQueue) len() int { return len(q.byTime) }

// queued counts the waiting acquisitions of one class.
func (q *fairQueue) queued(c Class) int {
	if c == Single {
		return q.singles.Len()
	}
	return q.len() - q.singles.Len()
}

func (q *fairQueue) push(w *waiter) {
	if w.class == Single {
		w.elem = q.singles.PushBack(w)
	} else {
		if q.bulk == nil {
			q.bulk = map[string]*list.List{}
		}
		l := q.bulk[w.tenant]
		if l == nil {
			l = list.New()
			q.bulk[w.tenant] = l
			q.turns = append(q.turns, w.tenant)
		}
		w.elem = l.PushBack(w)
	}
	heap.Push(&q.byTime, w)
}

// pop takes the waiter served next, or nil.
func (q *fairQueue) pop() *waiter {
	if e := q.singles.Front(); e != nil {
		w := e.Value.(*waiter)
		q.remove(w)
		return w
	}
	if len(q.turns) == 0 {
		return nil
	}
	t := q.turns[q.next]
	w := q.bulk[t].Front().Value.(*waiter)
	q.remove(w)
	if len(q.turns) > 0 && q.next < len(q.turns) && q.turns[q.next] == t {
		// t still waits: its turn is over.
		q.next = (q.next + 1) % len(q.turns)
	}
	return w
}

// remove takes w out wherever it is.
func (q *fairQueue) remove(w *waiter) {
	heap.Remove(&q.byTime, w.index)
	if w.class == Single {
		q.singles.Remove(w.elem)
		return
	}
	l := q.bulk[w.tenant]
	l.Remove(w.elem)
	if l.Len() > 0 {
		return
	}
	delete(q.bulk, w.tenant)
	for i, t := range q.turns {
		if t != w.tenant {
			continue
		}
		q.turns = append(q.turns[:i], q.turns[i+1:]...)
		if i < q.next {
			q.next--
		}
		break
	}
	if q.next >= len(q.turns) {
		q.next = 0
	}
}

// ahead estimates how many waiters a new acquisition would wait behind:
// every single send, and for a bulk send its tenant's own queue plus, of
// every other tenant, as many as the rounds it waits.
func (q *fairQueue) ahead(c Class, tenant string) int {
	n := q.singles.Len()
	if c == Single {
		return n
	}
	k := 0
	if l := q.bulk[tenant]; l != nil {
		k = l.Len()
	}
	n += k
	for t, l := range q.bulk {
		if t != tenant {
			n += min(l.Len(), k+1)
		}
	}
	return n
}

// earliest is the waiter whose deadline comes first, or nil.
func (q *fairQueue) earliest() *waiter {
	if len(q.byTime) == 0 {
		return nil
	}
	return q.byTime[0]
}

// deadlines is a heap of waiters by deadline.
type deadlines []*waiter

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].deadline < d[j].deadline }
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].index, d[j].index = i, j
}

// Push is heap.Interface's; use heap.Push.
func (d *deadlines) Push(x any) {
	w := x.(*waiter)
	w.index = len(*d)
	*d = append(*d, w)
}

// Pop is heap.Interface's; use heap.Pop.
func (d *deadlines) Pop() any {
	old := *d
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*d = old[:len(old)-1]
	w.index = -1
	return w
}
