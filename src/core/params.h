/*
 * params.h — typed access to a drec_params key=value set.  Each getter
 * marks its key as used, so drec_params_report_unused() can say once which
 * given keys a model ignored.  A value that does not parse is an error the
 * caller reports with the key's name (never a silent default).
 */
#ifndef DREC_PARAMS_H
#define DREC_PARAMS_H

#include "common.h"

drec_status drec_params_int(const drec_params *p, const char *key, long def, long *out);
drec_status drec_params_float(const drec_params *p, const char *key, double def, double *out);
/* A string value (or def); the pointer lives as long as p. */
const char *drec_params_str(const drec_params *p, const char *key, const char *def);
/* A comma list of ints, e.g. --layers 64,32,16,8; returns the count, or -1
 * with an error message when the list does not parse or exceeds max. */
int drec_params_ints(const drec_params *p, const char *key, const char *def, int *out, int max);
bool drec_params_flag(const drec_params *p, const char *key);
drec_params *drec_params_clone(const drec_params *p);
size_t drec_params_count(const drec_params *p);
/* The i-th key and value, in insertion order. */
void drec_params_at(const drec_params *p, size_t i, const char **key, const char **value);
/* Warns once per key that was set but never read, naming the model. */
void drec_params_report_unused(const drec_params *p, const char *model);
void drec_params_mark_used(const drec_params *p, const char *key);
#endif
