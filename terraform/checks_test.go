package terraform

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const functionGo = `package templategw

import "github.com/GoogleCloudPlatform/functions-framework-go/functions"

func init() {
	functions.HTTP("templates", nil)
	functions.CloudEvent("dispatch", nil)
	other.HTTP("notafunction", nil)
}
`

func TestRegisteredFunctions(t *testing.T) {
	got, err := registeredFunctions([]byte(functionGo))
	if err != nil || !reflect.DeepEqual(got, []string{"templates", "dispatch"}) {
		t.Fatalf("registeredFunctions = %v, %v", got, err)
	}
	if _, err := registeredFunctions([]byte("package x\nfunc init() { functions.HTTP(name, nil) }\n")); err == nil {
		t.Error("a name that is not a literal went unnoticed")
	}
}

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

// base deploys templates and dispatch, each with LOG_LEVEL and TOKEN set
// through locals, merge() and a secret.
const base = `
locals {
  common = {
    LOG_LEVEL = "info"
  }
  env = merge(local.common, { "QUOTED" = "x" })
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
	registered := []string{"templates", "dispatch"}
	vars := []string{"LOG_LEVEL", "QUOTED", "TOKEN"}
	tests := []struct {
		name        string
		src         string
		functions   []string // missingFunctions
		env         []string // missingEnv
		parseErr    string
		unformatted bool
	}{
		{name: "all good", src: base},
		{name: "a function not deployed",
			src:       strings.Replace(base, `entry_point = "dispatch"`, `entry_point = "dispatcher"`, 1),
			functions: []string{"dispatch"}},
		{name: "a variable missing on one function",
			src: strings.Replace(base, `key    = "TOKEN"`, `key    = "OTHER"`, 1),
			env: []string{"dispatch: TOKEN"}},
		{name: "a variable missing from a shared local",
			src: strings.Replace(base, `LOG_LEVEL = "info"`, `LOGLEVEL = "info"`, 1),
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
		{name: "not formatted",
			src:         strings.Replace(base, `LOG_LEVEL = "info"`, `LOG_LEVEL="info"`, 1),
			unformatted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
			if got := missingFunctions(registered, m); !slices.Equal(got, tt.functions) {
				t.Errorf("missingFunctions = %v, want %v", got, tt.functions)
			}
			if got := missingEnv(vars, m); !slices.Equal(got, tt.env) {
				t.Errorf("missingEnv = %v, want %v", got, tt.env)
			}
			if got := unformatted(files); (len(got) > 0) != tt.unformatted {
				t.Errorf("unformatted = %v, want unformatted %v", got, tt.unformatted)
			}
		})
	}
}
