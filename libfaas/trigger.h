/*
 * trigger.h - what the two event sources (trigger_schedule.c, trigger_watch.c) share: their
 * ids, and the AWS names their events carry by default. Neither is known to the core: each
 * attaches itself to a runtime as an optional part (faas__part_get, internal.h).
 */
#ifndef FAAS_TRIGGER_H
#define FAAS_TRIGGER_H

#include "internal.h"

/* The defaults of the account and region in events: LocalStack's local account, and the
 * region AWS clients fall back to. */
#define FAAS__TRIGGER_ACCOUNT "000000000000"
#define FAAS__TRIGGER_REGION  "us-east-1"

/* A new schedule or watch id: process-wide, from 1, never reused. */
faas_trigger_id faas__trigger_id(void);

/* Is s 1 to max characters, each a lower-case letter, a digit or '-' (a region)? */
bool faas__trigger_region_ok(const char *s);

#endif /* FAAS_TRIGGER_H */
