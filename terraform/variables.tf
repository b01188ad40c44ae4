variable "project" {
  description = "Google Cloud project id that holds everything: functions, Firestore, Pub/Sub, secrets."
  type        = string
}

variable "region" {
  description = "Region of the functions, the source bucket and Cloud Scheduler."
  type        = string
  default     = "us-central1"
}

variable "firestore_location" {
  description = "Location of the Firestore (default) database, a region or a multi-region such as nam5 or eur3. It cannot change after creation."
  type        = string
  default     = "nam5"
}

variable "firestore_delete_protection" {
  description = "Refuse to delete the Firestore database, even through terraform destroy."
  type        = bool
  default     = true
}

variable "runtime" {
  description = "Cloud Functions Go runtime. go.mod asks for Go 1.26, so go126 or newer."
  type        = string
  default     = "go126"
}

variable "build_service_account" {
  description = "Service account Cloud Build uses to build the functions, as projects/PROJECT/serviceAccounts/EMAIL; null uses the project's default build account."
  type        = string
  default     = null
}

variable "function_limits" {
  description = <<-EOT
    Per-function overrides of memory, cpu, concurrency (requests one instance
    serves at once), min_instances, max_instances and timeout_seconds, keyed
    by function name; what is not given keeps the defaults in functions.tf
    (HTTP functions 512Mi, 1 cpu, 80 requests, 0 to 100 instances, 60 s;
    sweep runs alone, one event at a time).
  EOT
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    concurrency     = optional(number)
    min_instances   = optional(number)
    max_instances   = optional(number)
    timeout_seconds = optional(number)
  }))
  default = {}

  validation {
    condition = alltrue([for name in keys(var.function_limits) : contains([
      "templates", "messages", "batches", "cloudchat", "emkt", "wati", "whatsapp", "console", "dispatch", "dispatchbulk", "fanout", "sweep", "callbacks",
    ], name)])
    error_message = "function_limits keys must be function names of function.go."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of every function: debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "meta_base_url" {
  description = "META_BASE_URL: base URL of Meta's Graph API."
  type        = string
  default     = "https://graph.facebook.com"
}

variable "meta_api_version" {
  description = "META_API_VERSION: Graph API version used for sends and template sync."
  type        = string
  default     = "v24.0"
}

variable "meta_timeout" {
  description = "META_TIMEOUT: bound on one call to Meta's API (Go duration)."
  type        = string
  default     = "15s"
}

variable "cache_ttl" {
  description = "CACHE_TTL: how stale a cached token, channel or template may be (Go duration)."
  type        = string
  default     = "30s"
}

variable "publish_timeout" {
  description = "PUBLISH_TIMEOUT: bound on a publish after the accept commit; past it sweep republishes (Go duration)."
  type        = string
  default     = "5s"
}

variable "send_wait" {
  description = "SEND_WAIT: how long a send into an open conversation waits for dispatch's outcome (Go duration)."
  type        = string
  default     = "5s"
}

variable "tenant_rate_limit" {
  description = "TENANT_RATE_LIMIT: requests per second a tenant that set none may make on the send routes, all instances together (docs/api.md, Request limits)."
  type        = number
  default     = 100

  validation {
    condition     = var.tenant_rate_limit >= 1 && var.tenant_rate_limit <= 10000 && floor(var.tenant_rate_limit) == var.tenant_rate_limit
    error_message = "tenant_rate_limit must be a whole number from 1 to 10000."
  }
}

variable "dispatch_lease" {
  description = "DISPATCH_LEASE: how long one dispatch attempt reserves a message; longer than meta_timeout (Go duration)."
  type        = string
  default     = "60s"
}

variable "dispatch_pace_wait" {
  description = "DISPATCH_PACE_WAIT: the longest a delivery waits for its channel's messages per second before it gives the job back unclaimed; shorter than dispatch_lease (Go duration)."
  type        = string
  default     = "10s"
}

variable "dispatch_max_attempts" {
  description = "DISPATCH_MAX_ATTEMPTS: retryable provider failures before a message fails for good."
  type        = number
  default     = 10
}

variable "dispatch_max_deliveries" {
  description = "Pushes of one dispatch job before Pub/Sub moves it to dispatch-dead; well above dispatch_max_attempts, since the message itself counts those."
  type        = number
  default     = 50

  validation {
    condition     = var.dispatch_max_deliveries >= 5 && var.dispatch_max_deliveries <= 100
    error_message = "dispatch_max_deliveries must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "hold_limit" {
  description = "HOLD_LIMIT: how long a message waits held (its channel refused by Meta as a whole: token, account) before sweep fails it with the reason (Go duration)."
  type        = string
  default     = "24h"
}

variable "unknown_wait" {
  description = "UNKNOWN_WAIT: how long a message whose outcome is unknown waits for Meta's webhook before sweep resends it once (Go duration)."
  type        = string
  default     = "10m"
}

variable "fanout_max_deliveries" {
  description = "Pushes of one bulk-send chunk before Pub/Sub moves it to fanout-dead; sweep picks up chunks of open batches again."
  type        = number
  default     = 20

  validation {
    condition     = var.fanout_max_deliveries >= 5 && var.fanout_max_deliveries <= 100
    error_message = "fanout_max_deliveries must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "sweep_schedule" {
  description = "Cloud Scheduler cron schedule of sweep."
  type        = string
  default     = "* * * * *"
}

variable "sweep_accepted_after" {
  description = "SWEEP_ACCEPTED_AFTER: how long a message may stay accepted before sweep republishes it (Go duration)."
  type        = string
  default     = "2m"
}

variable "sweep_batch" {
  description = "SWEEP_BATCH: work of each sweep step per tenant and run."
  type        = number
  default     = 500
}

variable "callback_max_attempts" {
  description = "CALLBACK_MAX_ATTEMPTS, and the callbacks subscription's max delivery attempts before the dead letter."
  type        = number
  default     = 10

  validation {
    condition     = var.callback_max_attempts >= 5 && var.callback_max_attempts <= 100
    error_message = "callback_max_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "callback_timeout" {
  description = "CALLBACK_TIMEOUT: one delivery attempt to a tenant's URL (Go duration); below the callbacks ack deadline."
  type        = string
  default     = "10s"
}

variable "callback_inline_timeout" {
  description = "CALLBACK_INLINE_TIMEOUT: the first delivery attempt, made by the function whose change the callback tells (Go duration, at most callback_timeout); 0s sends every callback through the callbacks topic."
  type        = string
  default     = "2s"
}

variable "callback_allow_private" {
  description = "CALLBACK_ALLOW_PRIVATE: let callbacks reach private addresses (RFC 1918, 100.64.0.0/10, fc00::/7), for receivers inside a VPC; never link-local ones."
  type        = bool
  default     = false
}

variable "callback_allow_ranges" {
  description = "CALLBACK_ALLOW_RANGES: comma-separated CIDR ranges callbacks may reach although docs/callbacks.md lists them as refused; never the metadata server."
  type        = string
  default     = ""
}

variable "trusted_proxy_hops" {
  description = "TRUSTED_PROXY_HOPS: proxies in front of the functions that append to X-Forwarded-For; 1 for Google's front end alone, 2 behind an external Application Load Balancer (docs/logs.md)."
  type        = number
  default     = 1

  validation {
    condition     = var.trusted_proxy_hops >= 0 && floor(var.trusted_proxy_hops) == var.trusted_proxy_hops
    error_message = "trusted_proxy_hops must be a whole number, 0 or more."
  }
}

variable "whatsapp_app_secret_id" {
  description = "Secret Manager secret id holding Meta's app secret (WHATSAPP_APP_SECRET), which signs Meta's webhooks."
  type        = string
  default     = "templategw-whatsapp-app-secret"
}

variable "whatsapp_verify_token_secret_id" {
  description = "Secret Manager secret id holding the webhook verify token (WHATSAPP_VERIFY_TOKEN) typed into Meta's dashboard."
  type        = string
  default     = "templategw-whatsapp-verify-token"
}

variable "channel_secrets" {
  description = <<-EOT
    Channel access tokens, as { ENV_NAME = "secret-id" }: each Secret Manager
    secret is created here and handed to dispatch as the environment variable
    ENV_NAME, which a channel names with the secret reference env:ENV_NAME.
  EOT
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.channel_secrets) : can(regex("^[A-Z][A-Z0-9_]*$", name))])
    error_message = "channel_secrets keys must be environment variable names (upper case, digits, underscores)."
  }
}

variable "console_session_key_secret_id" {
  description = "Secret Manager secret id holding the console's session key (CONSOLE_SESSION_KEY, at least 32 bytes), which signs its cookies."
  type        = string
  default     = "templategw-console-session-key"
}

variable "console_session_idle" {
  description = "CONSOLE_SESSION_IDLE: a console session nobody used for this long ends (Go duration)."
  type        = string
  default     = "30m"
}

variable "console_session_max" {
  description = "CONSOLE_SESSION_MAX: a console session ends this long after sign-in, used or not (Go duration)."
  type        = string
  default     = "12h"
}
