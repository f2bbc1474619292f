/* SPDX-License-Identifier: MIT */
#include "kbpipeline.h"

const char *kbp_intent_status_name(kbp_intent_status status)
{
	switch (status) {
	case KBP_INTENT_PENDING: return "pending";
	case KBP_INTENT_SUCCEEDED: return "succeeded";
	case KBP_INTENT_FAILED: return "failed";
	case KBP_INTENT_EXPIRED: return "expired";
	case KBP_INTENT_CANCELED: return "canceled";
	}
	return "unknown";
}

const char *kbp_job_state_name(kbp_job_state state)
{
	switch (state) {
	case KBP_JOB_AVAILABLE: return "available";
	case KBP_JOB_RUNNING: return "running";
	case KBP_JOB_COMPLETED: return "completed";
	case KBP_JOB_FAILED: return "failed";
	case KBP_JOB_CANCELED: return "canceled";
	}
	return "unknown";
}

const char *kbp_order_stage_name(kbp_order_stage stage)
{
	switch (stage) {
	case KBP_STAGE_VERIFYING: return "verifying";
	case KBP_STAGE_PROCESSING: return "processing";
	case KBP_STAGE_CONFIRMED: return "confirmed";
	case KBP_STAGE_FAILED: return "failed";
	}
	return "unknown";
}

const char *kbp_verification_outcome_name(kbp_verification_outcome outcome)
{
	switch (outcome) {
	case KBP_VERIFICATION_ACCEPTED: return "accepted";
	case KBP_VERIFICATION_REJECTED: return "rejected";
	case KBP_VERIFICATION_PENDING: return "pending";
	case KBP_VERIFICATION_DECLINED: return "declined";
	}
	return "unknown";
}

const char *kbp_health_level_name(kbp_health_level level)
{
	switch (level) {
	case KBP_HEALTH_OK: return "ok";
	case KBP_HEALTH_INFO: return "info";
	case KBP_HEALTH_WARNING: return "warning";
	case KBP_HEALTH_CRITICAL: return "critical";
	}
	return "unknown";
}
