# The console function (HTTP, public). The web console: a business signs
# in with an integration token and sees and steers its messages
# (docs/console.md).

resource "google_service_account" "console" {
  account_id   = "templategw-console"
  display_name = "templategw console function"
  description  = "The web console: messages, broadcasts, templates, contacts and channels of the signed-in tenant."
}

# Sessions, the pages' reads, template sync's writes and broadcast
# control.
resource "google_project_iam_member" "console_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.console.member

  condition {
    title       = local.firestore_database_only.title
    description = local.firestore_database_only.description
    expression  = local.firestore_database_only.expression
  }
}

# Resuming or cancelling a broadcast hands its chunks back to the
# fan-out.
resource "google_pubsub_topic_iam_member" "console_publishes_fanout" {
  topic  = google_pubsub_topic.fanout.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.console.member
}

# Resolving an unknown message as resend hands it to dispatch, as the
# CLI's messages resolve does.
resource "google_pubsub_topic_iam_member" "console_publishes_dispatch" {
  topic  = google_pubsub_topic.dispatch.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.console.member
}

# Replaying a dead letter puts its callback back on the callbacks topic.
resource "google_pubsub_topic_iam_member" "console_publishes_callbacks" {
  topic  = google_pubsub_topic.callbacks.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.console.member
}

resource "google_cloudfunctions2_function" "console" {
  name        = "console"
  location    = var.region
  description = "The web console: messages, broadcasts, templates, contacts and channels of the signed-in tenant."

  build_config {
    runtime         = var.runtime
    entry_point     = "console"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.console.email
    available_memory                 = local.limits.console.memory
    available_cpu                    = local.limits.console.cpu
    max_instance_request_concurrency = local.limits.console.concurrency
    min_instance_count               = local.limits.console.min_instances
    max_instance_count               = local.limits.console.max_instances
    timeout_seconds                  = local.limits.console.timeout_seconds
    all_traffic_on_latest_revision   = true
    ingress_settings                 = "ALLOW_ALL"
    environment_variables            = local.env_console

    secret_environment_variables {
      key        = "CONSOLE_SESSION_KEY"
      project_id = var.project
      secret     = google_secret_manager_secret.console_session_key.secret_id
      version    = "latest"
    }

    # The templates page's sync button reads the default channel's access
    # token as dispatch does (a secret reference env:NAME).
    dynamic "secret_environment_variables" {
      for_each = google_secret_manager_secret.channel

      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value.secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    # A revision starts only if its account can read its secrets.
    google_secret_manager_secret_iam_member.console_reads_session_key,
    google_secret_manager_secret_iam_member.console_reads_channel,
  ]
}

# Public: people sign in with the gateway's own integration tokens, which
# the function checks; every other page needs the session it signs.
resource "google_cloud_run_service_iam_member" "console_public" {
  location = google_cloudfunctions2_function.console.location
  service  = google_cloudfunctions2_function.console.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
