package terraform

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/templategw/templategw/internal/app"
)

func TestEnvVarsFollowsNestedStructs(t *testing.T) {
	type inner struct {
		A string `env:"A, default=x,y"`
	}
	type prefixed struct {
		B int `env:"B"`
	}
	type cfg struct {
		Top     string `env:"TOP"`
		Inner   inner
		Pointer *inner
		Meta    prefixed  `env:",prefix=META_"`
		When    time.Time `env:"WHEN"`
		Skipped string
	}
	got := envVars(reflect.TypeFor[cfg](), "")
	want := []string{"TOP", "A", "A", "META_B", "WHEN"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("envVars = %v, want %v", got, want)
	}
}

// base deploys templates and dispatch, each with LOG_LEVEL, a topic,
// a number and TOKEN set through variables, locals, merge() and a secret;
// a push subscription with a dead letter feeds dispatch.
const base = `
variable "log_level" {
  default = "info"
}

variable "attempts" {
  default = 10
}

locals {
  common = {
    LOG_LEVEL             = var.log_level
    DISPATCH_MAX_ATTEMPTS = tostring(var.attempts)
  }
  env = merge(local.common, { "DISPATCH_TOPIC" = google_pubsub_topic.dispatch.name })
}

resource "google_pubsub_topic" "dispatch" {
  name = "dispatch"
}

resource "google_pubsub_topic" "dispatch_dead" {
  name = "dispatch-dead"
}

resource "google_pubsub_subscription" "dispatch" {
  topic = google_pubsub_topic.dispatch.id

  dead_letter_policy {
    dead_letter_topic = google_pubsub_topic.dispatch_dead.id
  }

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.dispatch.service_config[0].uri}/${google_pubsub_topic.dispatch.id}"
  }
}

resource "google_pubsub_subscription" "keep" {
  topic = google_pubsub_topic.dispatch_dead.id
}

resource "google_cloudfunctions2_function" "templates" {
  build_config {
    entry_point = "templates"
  }
  service_config {
    environment_variables = merge(local.env, { TOKEN = "" })
  }
}

resource "google_cloudfunctions2_function" "dispatch" {
  build_config {
    entry_point = "dispatch"
  }
  service_config {
    environment_variables = local.env
    secret_environment_variables {
      key    = "TOKEN"
      secret = "s"
    }
  }
}
`

func TestChecksCatchMistakes(t *testing.T) {
	fns := []app.Function{
		{Name: "templates", Kind: app.HTTP},
		{Name: "dispatch", Kind: app.CloudEvent, Topic: "dispatch", DeadLetter: "dispatch-dead"},
	}
	vars := []string{"LOG_LEVEL", "DISPATCH_MAX_ATTEMPTS", "DISPATCH_TOPIC", "TOKEN"}
	tests := []struct {
		name        string
		src         string
		functions   []string // missingFunctions
		triggers    []string // wrongTriggers
		env         []string // missingEnv
		defaults    []string // wrongDefaults
		parseErr    string
		unformatted bool
	}{
		{name: "all good", src: base},
		{name: "a function not deployed",
			src:       strings.Replace(base, `entry_point = "dispatch"`, `entry_point = "dispatcher"`, 1),
			functions: []string{"dispatch"}},
		{name: "an HTTP function pushed to",
			src: strings.Replace(base, `google_cloudfunctions2_function.dispatch.service_config`, `google_cloudfunctions2_function.templates.service_config`, 1),
			triggers: []string{"templates: HTTP, but subscription dispatch pushes to it",
				"dispatch: 0 push subscriptions, want 1 on topic dispatch"}},
		{name: "a CloudEvent function pushed from another topic",
			src:      strings.Replace(base, `topic = google_pubsub_topic.dispatch.id`, `topic = google_pubsub_topic.dispatch_dead.id`, 1),
			triggers: []string{`dispatch: subscription dispatch is on topic "dispatch-dead", want "dispatch"`}},
		{name: "a dead letter elsewhere",
			src:      strings.Replace(base, `dead_letter_topic = google_pubsub_topic.dispatch_dead.id`, `dead_letter_topic = google_pubsub_topic.dispatch.id`, 1),
			triggers: []string{`dispatch: subscription dispatch dead-letters to "dispatch", want "dispatch-dead"`}},
		{name: "a topic named otherwise than config's default",
			src:      strings.Replace(base, `name = "dispatch"`, `name = "jobs"`, 1),
			triggers: []string{`dispatch: subscription dispatch is on topic "jobs", want "dispatch"`},
			defaults: []string{`DISPATCH_TOPIC: Terraform's default "jobs" is not config's`}},
		{name: "a string default that is not config's",
			src:      strings.Replace(base, `default = "info"`, `default = "debug"`, 1),
			defaults: []string{`LOG_LEVEL: Terraform's default "debug" is not config's`}},
		{name: "a number default that is not config's",
			src:      strings.Replace(base, `default = 10`, `default = 11`, 1),
			defaults: []string{`DISPATCH_MAX_ATTEMPTS: Terraform's default "11" is not config's`}},
		{name: "a variable missing on one function",
			src: strings.Replace(base, `key    = "TOKEN"`, `key    = "OTHER"`, 1),
			env: []string{"dispatch: TOKEN"}},
		{name: "a variable missing from a shared local",
			src: strings.Replace(base, `LOG_LEVEL             = var.log_level`, `LOGLEVEL              = var.log_level`, 1),
			env: []string{"templates: LOG_LEVEL", "dispatch: LOG_LEVEL"}},
		{name: "an environment that cannot be read statically",
			src:      strings.Replace(base, `environment_variables = local.env`, `environment_variables = var.env`, 1),
			parseErr: "cannot be read without evaluating it"},
		{name: "an unknown local",
			src:      strings.Replace(base, `environment_variables = local.env`, `environment_variables = local.nope`, 1),
			parseErr: "local.nope is not defined"},
		{name: "a computed entry point",
			src:      strings.Replace(base, `entry_point = "templates"`, `entry_point = var.name`, 1),
			parseErr: "entry_point is not a literal string"},
		{name: "a computed topic name",
			src:      strings.Replace(base, `name = "dispatch"`, `name = var.topic`, 1),
			parseErr: "google_pubsub_topic.dispatch: name is not a literal string"},
		{name: "a push to no function",
			src:      strings.Replace(base, `google_cloudfunctions2_function.dispatch.service_config[0].uri`, `var.url`, 1),
			parseErr: "push_endpoint: refers to 0 google_cloudfunctions2_function resources"},
		{name: "not formatted",
			src:         strings.Replace(base, `name = "dispatch-dead"`, `name="dispatch-dead"`, 1),
			unformatted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.src == base && tt.name != "all good" {
				t.Fatal("the replacement changed nothing")
			}
			files := map[string][]byte{"main.tf": []byte(tt.src)}
			m, err := parseModule(files)
			if tt.parseErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.parseErr) {
					t.Fatalf("parse error = %v, want one containing %q", err, tt.parseErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := missingFunctions(fns, m); !slices.Equal(got, tt.functions) {
				t.Errorf("missingFunctions = %v, want %v", got, tt.functions)
			}
			if got := wrongTriggers(fns, m); !slices.Equal(got, tt.triggers) {
				t.Errorf("wrongTriggers = %q, want %q", got, tt.triggers)
			}
			if got := missingEnv(vars, m); !slices.Equal(got, tt.env) {
				t.Errorf("missingEnv = %v, want %v", got, tt.env)
			}
			got, checked := wrongDefaults(m)
			if !slices.Equal(got, tt.defaults) || checked != 3 {
				t.Errorf("wrongDefaults = %q after %d, want %q after 3", got, checked, tt.defaults)
			}
			if got := unformatted(files); (len(got) > 0) != tt.unformatted {
				t.Errorf("unformatted = %v, want unformatted %v", got, tt.unformatted)
			}
		})
	}
}
