# Cloud Scheduler ticks sweep through its topic. The scheduler's own
# service agent publishes, so no account of ours needs to.
resource "google_cloud_scheduler_job" "sweep" {
  name        = "templategw-sweep"
  region      = var.region
  description = "Republishes lost accepts, expires leases, closes conversations."
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.sweep.id
    # sweep ignores the body; Pub/Sub refuses an empty message.
    data = base64encode("tick")
  }

  depends_on = [google_project_service.apis]
}
