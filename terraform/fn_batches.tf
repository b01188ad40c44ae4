# The batches function (HTTP, public). Broadcasts: progress, pause, resume
# and cancel of bulk sends.

resource "google_service_account" "batches" {
  account_id   = "templategw-batches"
  display_name = "templategw batches function"
  description  = "Broadcasts: progress, pause, resume and cancel of bulk sends."
}

resource "google_project_iam_member" "batches_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.batches.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

# A resume or a cancel hands every chunk of the broadcast back to the
# fan-out.
resource "google_pubsub_topic_iam_member" "batches_publishes_fanout" {
  topic  = google_pubsub_topic.fanout.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.batches.member
}

resource "google_cloudfunctions2_function" "batches" {
  name        = "batches"
  location    = var.region
  description = "Broadcasts: progress, pause, resume and cancel of bulk sends."

  build_config {
    runtime         = var.runtime
    entry_point     = "batches"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.batches.email
    available_memory                 = local.limits.batches.memory
    available_cpu                    = local.limits.batches.cpu
    max_instance_request_concurrency = local.limits.batches.concurrency
    min_instance_count               = local.limits.batches.min_instances
    max_instance_count               = local.limits.batches.max_instances
    timeout_seconds                  = local.limits.batches.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env
  }

  depends_on = [google_project_service.apis]
}

# Public: callers authenticate with the gateway's own bearer tokens, which
# the function checks.
resource "google_cloud_run_service_iam_member" "batches_public" {
  location = google_cloudfunctions2_function.batches.location
  service  = google_cloudfunctions2_function.batches.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
