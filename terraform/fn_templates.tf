# The templates function (HTTP, public). Atom Templates API: POST / sends
# a template, GET / lists templates, GET /{id} shows one.

resource "google_service_account" "templates" {
  account_id   = "templategw-templates"
  display_name = "templategw templates function"
  description  = "Atom Templates API: POST / sends a template, GET / lists templates, GET /{id} shows one."
}

resource "google_project_iam_member" "templates_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.templates.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_pubsub_topic_iam_member" "templates_publishes_dispatch" {
  topic  = google_pubsub_topic.dispatch.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.templates.member
}

resource "google_cloudfunctions2_function" "templates" {
  name        = "templates"
  location    = var.region
  description = "Atom Templates API: POST / sends a template, GET / lists templates, GET /{id} shows one."

  build_config {
    runtime         = var.runtime
    entry_point     = "templates"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.templates.email
    available_memory                 = local.limits.templates.memory
    available_cpu                    = local.limits.templates.cpu
    max_instance_request_concurrency = local.limits.templates.concurrency
    min_instance_count               = local.limits.templates.min_instances
    max_instance_count               = local.limits.templates.max_instances
    timeout_seconds                  = local.limits.templates.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env
  }

  depends_on = [google_project_service.apis]
}

# Public: callers authenticate with the gateway's own bearer tokens, which
# the function checks.
resource "google_cloud_run_service_iam_member" "templates_public" {
  location = google_cloudfunctions2_function.templates.location
  service  = google_cloudfunctions2_function.templates.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
