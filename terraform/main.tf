# templategw on Google Cloud: the ten Cloud Functions (gen2) of function.go,
# Firestore, Pub/Sub, Secret Manager and Cloud Scheduler, each function with
# a service account of its own. README.md beside this file says how to
# apply it.

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

data "google_project" "this" {}

locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each = toset(local.apis)

  service = each.value
  # Other deployments in the project may use the same APIs.
  disable_on_destroy = false
}

# Every function builds from the module root with its own entry point, so
# they share one archive. Tests, docs and this directory are left out: the
# build needs only the Go sources, go.mod and go.sum.
data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/.."
  output_path = "${path.module}/.build/templategw-source.zip"
  excludes = [
    ".git/**",
    ".ci/**",
    "docs/**",
    "terraform/**",
    "**/*_test.go",
    "**/testdata/**",
    "**/*.test",
  ]
}

resource "google_storage_bucket" "source" {
  name     = "${var.project}-templategw-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # Old archives are of no use once their functions are rebuilt.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# The object is named after its content, so a change to the code is a new
# object and every function is rebuilt from it.
resource "google_storage_bucket_object" "source" {
  name   = "templategw-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}
