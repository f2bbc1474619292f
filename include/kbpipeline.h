/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_H
#define KBPIPELINE_H

#include "kbpipeline/errors.h"
#include "kbpipeline/pipeline.h"
#include "kbpipeline/catalog.h"
#include "kbpipeline/cart.h"
#include "kbpipeline/intent.h"
#include "kbpipeline/verify.h"
#include "kbpipeline/gateways.h"
#include "kbpipeline/jobs.h"
#include "kbpipeline/orders.h"
#include "kbpipeline/ops.h"

#endif
