# What the function files share: sizes and the pieces every function's
# build_config repeats. Each fn_*.tf file holds one function with its
# service account and the permissions that account gets, nothing more.

locals {
  http_limits = {
    memory          = "512Mi"
    cpu             = "1"
    concurrency     = 80
    min_instances   = 0
    max_instances   = 100
    timeout_seconds = 60
  }

  default_limits = {
    templates = local.http_limits
    messages  = local.http_limits
    batches   = local.http_limits
    cloudchat = local.http_limits
    whatsapp  = local.http_limits
    console   = local.http_limits
    # A 100,000-contact bulk send is answered within seconds but stores
    # every chunk first.
    emkt = merge(local.http_limits, { memory = "1Gi", timeout_seconds = 300 })
    wati = merge(local.http_limits, { memory = "1Gi", timeout_seconds = 300 })
    # One event is one provider call: many fit in an instance at once.
    dispatch     = merge(local.http_limits, { concurrency = 40 })
    dispatchbulk = merge(local.http_limits, { concurrency = 40 })
    # One event is a chunk of up to a few hundred messages.
    fanout = merge(local.http_limits, { memory = "1Gi", concurrency = 4, max_instances = 20, timeout_seconds = 300 })
    # Ticks must not overlap: one instance, one tick at a time.
    sweep     = merge(local.http_limits, { concurrency = 1, max_instances = 1, timeout_seconds = 540 })
    callbacks = merge(local.http_limits, { max_instances = 50 })
  }

  limits = {
    for name, d in local.default_limits : name => merge(d, {
      for k, v in try(var.function_limits[name], {}) : k => v if v != null
    })
  }

  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Firestore's IAM stops at the database: a role on it reaches every
  # collection. Each function's grant is held to the gateway's database,
  # so a project's other databases stay out of reach; which collections
  # a function touches is the code's to keep (docs/deploy.md).
  firestore_database_only = {
    title       = "templategw database only"
    description = "Only the gateway's own Firestore database."
    expression  = "resource.name == \"${google_firestore_database.default.id}\""
  }
}
