# The sweep function (CloudEvent, pushed by Pub/Sub). Republishes lost
# accepts, expires leases, reopens bulk sends, closes conversations.

resource "google_service_account" "sweep" {
  account_id   = "templategw-sweep"
  display_name = "templategw sweep function"
  description  = "Republishes lost accepts, expires leases, reopens bulk sends, closes conversations."
}

resource "google_project_iam_member" "sweep_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.sweep.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

resource "google_pubsub_topic_iam_member" "sweep_publishes_dispatch" {
  topic  = google_pubsub_topic.dispatch.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.sweep.member
}

# A broadcast's lost jobs go back to the bulk topic, paced behind single
# sends as the fan-out's are.
resource "google_pubsub_topic_iam_member" "sweep_publishes_dispatch_bulk" {
  topic  = google_pubsub_topic.dispatch_bulk.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.sweep.member
}

resource "google_pubsub_topic_iam_member" "sweep_publishes_fanout" {
  topic  = google_pubsub_topic.fanout.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.sweep.member
}

resource "google_pubsub_topic_iam_member" "sweep_publishes_callbacks" {
  topic  = google_pubsub_topic.callbacks.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.sweep.member
}

resource "google_cloudfunctions2_function" "sweep" {
  name        = "sweep"
  location    = var.region
  description = "Republishes lost accepts, expires leases, reopens bulk sends, closes conversations."

  build_config {
    runtime         = var.runtime
    entry_point     = "sweep"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.sweep.email
    available_memory                 = local.limits.sweep.memory
    available_cpu                    = local.limits.sweep.cpu
    max_instance_request_concurrency = local.limits.sweep.concurrency
    min_instance_count               = local.limits.sweep.min_instances
    max_instance_count               = local.limits.sweep.max_instances
    timeout_seconds                  = local.limits.sweep.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env
  }

  depends_on = [google_project_service.apis]
}

# The identity Pub/Sub pushes as: allowed to invoke this function and
# nothing else.
resource "google_service_account" "sweep_push" {
  account_id   = "templategw-sweep-push"
  display_name = "Pub/Sub push to the templategw sweep function"
}

resource "google_cloud_run_service_iam_member" "sweep_push_invokes" {
  location = google_cloudfunctions2_function.sweep.location
  service  = google_cloudfunctions2_function.sweep.name
  role     = "roles/run.invoker"
  member   = google_service_account.sweep_push.member
}

# Pub/Sub's agent mints the push's OIDC tokens for that identity.
resource "google_service_account_iam_member" "sweep_push_token" {
  service_account_id = google_service_account.sweep_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# No dead letter: a failed tick is worth retrying for a short while only,
# since the scheduler sends the next one within a minute. Pub/Sub keeps
# a message at least 10 minutes, so at most a few ticks wait.
resource "google_pubsub_subscription" "sweep" {
  name  = "sweep-push"
  topic = google_pubsub_topic.sweep.id

  # Pub/Sub waits this long for the function's answer before it pushes
  # again: as long as the function may run.
  ack_deadline_seconds       = min(local.limits.sweep.timeout_seconds, 600)
  message_retention_duration = "600s"

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "60s"
  }

  # A subscription nobody pulls from expires after 31 idle days by
  # default; a quiet month must not delete this one.
  expiration_policy {
    ttl = ""
  }

  push_config {
    # The path names the topic: the Functions Framework reads it from
    # there when it turns the push into a CloudEvent.
    push_endpoint = "${google_cloudfunctions2_function.sweep.service_config[0].uri}/${google_pubsub_topic.sweep.id}"

    oidc_token {
      service_account_email = google_service_account.sweep_push.email
      audience              = google_cloudfunctions2_function.sweep.service_config[0].uri
    }
  }

  depends_on = [
    google_cloud_run_service_iam_member.sweep_push_invokes,
    google_service_account_iam_member.sweep_push_token,
  ]
}
