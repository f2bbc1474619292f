/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_STORAGE_OPEN_H
#define KBP_CORE_STORAGE_OPEN_H

#include "kbpipeline/sys/storage.h"

enum { KBP_STORAGE_MEMORY, KBP_STORAGE_POSTGRES };

/* Opens the backend the options' URI names (NULL or "" means "memory:") and checks its vtable. */
int kbp__storage_open(kbp_storage **out, const kbp_options *opts);
/* KBP_STORAGE_MEMORY, KBP_STORAGE_POSTGRES, or -1 for a URI no backend takes. */
int kbp__storage_kind(const char *uri);

#endif
