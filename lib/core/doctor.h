/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_DOCTOR_H
#define KBP_CORE_DOCTOR_H

#include "kbpipeline.h"

/* The checks, in report order; backends fill a report made by kbp__doctor_report_new. */
enum {
	KBP__DOCTOR_ORDERS_WITHOUT_ITEMS,
	KBP__DOCTOR_PAID_WITHOUT_ORDER,
	KBP__DOCTOR_UNBALANCED_RESERVATIONS,
	KBP__DOCTOR_PRODUCTS_WITHOUT_VENDOR,
	KBP__DOCTOR_NEEDS_REFUND,
	KBP__DOCTOR_CHECKS
};

extern const char *const kbp__doctor_checks[KBP__DOCTOR_CHECKS][2];

kbp_doctor_report *kbp__doctor_report_new(void);
/* Counts one finding and keeps its id while there is room; -1 when memory runs out. */
int kbp__doctor_add(kbp_doctor_report *r, int check, const char *id);

#endif
