/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_STORAGE_OPEN_H
#define KBP_CORE_STORAGE_OPEN_H

#include "kbpipeline/sys/storage.h"

/* Opens the backend the URI names (NULL or "" means "memory:") and checks its vtable. */
int kbp__storage_open(kbp_storage **out, const char *uri);

#endif
