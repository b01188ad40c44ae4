# The environment of every function. internal/config reads the same
# variables in every function, so all of them are set everywhere
# (terraform_test.go checks that each variable config reads is set on
# each function). Meta's webhook secrets are the exception: only whatsapp
# reads them, from Secret Manager; the others get them empty, so no other
# function can read Meta's app secret. So is the console's session key:
# only the console reads it.

locals {
  env_plain = {
    GOOGLE_CLOUD_PROJECT = var.project
    LOG_LEVEL            = var.log_level
    CACHE_TTL            = var.cache_ttl
    PUBLISH_TIMEOUT      = var.publish_timeout
    SEND_WAIT            = var.send_wait
    TRUSTED_PROXY_HOPS   = tostring(var.trusted_proxy_hops)
    TENANT_RATE_LIMIT    = tostring(var.tenant_rate_limit)

    DISPATCH_TOPIC          = google_pubsub_topic.dispatch.name
    DISPATCH_BULK_TOPIC     = google_pubsub_topic.dispatch_bulk.name
    FANOUT_TOPIC            = google_pubsub_topic.fanout.name
    DISPATCH_LEASE          = var.dispatch_lease
    DISPATCH_PACE_WAIT      = var.dispatch_pace_wait
    DISPATCH_MAX_ATTEMPTS   = tostring(var.dispatch_max_attempts)
    DISPATCH_MAX_DELIVERIES = tostring(var.dispatch_max_deliveries)
    HOLD_LIMIT              = var.hold_limit
    UNKNOWN_WAIT            = var.unknown_wait

    META_BASE_URL    = var.meta_base_url
    META_API_VERSION = var.meta_api_version
    META_TIMEOUT     = var.meta_timeout

    SWEEP_TOPIC          = google_pubsub_topic.sweep.name
    SWEEP_ACCEPTED_AFTER = var.sweep_accepted_after
    SWEEP_BATCH          = tostring(var.sweep_batch)
    # A minute below the function's timeout, whatever function_limits
    # makes it: a run stops republishing on its own and finishes its
    # publishes in flight before Cloud Run cuts it off.
    SWEEP_BUDGET = "${local.limits.sweep.timeout_seconds - 60}s"

    CALLBACK_TOPIC             = google_pubsub_topic.callbacks.name
    CALLBACK_DEAD_LETTER_TOPIC = google_pubsub_topic.callbacks_dead.name
    CALLBACK_MAX_ATTEMPTS      = tostring(var.callback_max_attempts)
    CALLBACK_TIMEOUT           = var.callback_timeout
    CALLBACK_INLINE_TIMEOUT    = var.callback_inline_timeout
    # Nothing a tenant names may reach the functions' own loopback.
    CALLBACK_ALLOW_LOOPBACK = "false"
    CALLBACK_ALLOW_PRIVATE  = tostring(var.callback_allow_private)
    CALLBACK_ALLOW_RANGES   = var.callback_allow_ranges

    CONSOLE_SESSION_IDLE = var.console_session_idle
    CONSOLE_SESSION_MAX  = var.console_session_max
  }

  env_without_webhook_secrets = {
    WHATSAPP_APP_SECRET   = ""
    WHATSAPP_VERIFY_TOKEN = ""
  }

  # The console's session key is the console's alone, like the webhook's
  # secrets are whatsapp's.
  env_without_console_key = {
    CONSOLE_SESSION_KEY = ""
  }

  # What every function but whatsapp and console gets.
  env = merge(local.env_plain, local.env_without_webhook_secrets, local.env_without_console_key)

  # whatsapp's and console's own secrets come from Secret Manager.
  env_whatsapp = merge(local.env_plain, local.env_without_console_key)
  env_console  = merge(local.env_plain, local.env_without_webhook_secrets)
}
