package app

import (
	"context"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/templategw/templategw/internal/config"
)

// Kind is how Cloud Functions invokes a function.
type Kind int

const (
	// HTTP functions serve requests at their own URL.
	HTTP Kind = iota + 1
	// CloudEvent functions are pushed the messages of one Pub/Sub topic.
	CloudEvent
)

// Function is one of the gateway's Cloud Functions: what function.go
// registers, the dev stack runs in its own process and Terraform deploys.
type Function struct {
	// Name is the function's FUNCTION_TARGET and Terraform entry_point,
	// and the dev stack's front-door path of an HTTP function.
	Name string
	// Kind says which of HTTP and Event is set.
	Kind Kind
	// HTTP serves an HTTP function; nil for a CloudEvent one.
	HTTP http.HandlerFunc
	// Event handles a CloudEvent function's events; nil for an HTTP one.
	Event func(context.Context, event.Event) error
	// Topic is the topic a CloudEvent function is pushed from, as the
	// configuration names it by default.
	Topic string
	// DeadLetter, when set, is the topic that receives what the push
	// subscription failed to deliver, as the configuration names it.
	DeadLetter string
}

// Functions are every function of the gateway, HTTP ones first. Names and
// topics are written only here and in config; everything that lists the
// functions reads this.
var Functions = functions(config.Defaults())

func functions(d config.Config) []Function {
	return []Function{
		httpFunction("templates", (*Env).Templates),
		httpFunction("messages", (*Env).Messages),
		httpFunction("batches", (*Env).Broadcasts),
		httpFunction("cloudchat", (*Env).CloudChat),
		httpFunction("emkt", (*Env).Emkt),
		httpFunction("wati", (*Env).Wati),
		httpFunction("whatsapp", (*Env).WhatsApp),
		httpFunction("console", (*Env).Console),
		eventFunction("dispatch", d.DispatchTopic, "", (*Env).Dispatcher),
		// Broadcasts' messages, on a subscription of their own: a single
		// send never queues behind a broadcast's jobs.
		eventFunction("dispatchbulk", d.DispatchBulkTopic, "", (*Env).Dispatcher),
		eventFunction("fanout", d.FanoutTopic, "", (*Env).Fanout),
		eventFunction("sweep", d.Sweep.Topic, "", (*Env).Sweeper),
		eventFunction("callbacks", d.Callback.Topic, d.Callback.DeadLetterTopic, (*Env).Deliverer),
	}
}

func httpFunction(name string, build func(*Env, context.Context) (http.Handler, error)) Function {
	return Function{Name: name, Kind: HTTP, HTTP: lazyHTTP(build)}
}

func eventFunction[H eventHandler](name, topic, deadLetter string, build func(*Env, context.Context) (H, error)) Function {
	return Function{Name: name, Kind: CloudEvent, Event: lazyEvent(name, build), Topic: topic, DeadLetter: deadLetter}
}
