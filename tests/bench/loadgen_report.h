/* The load generator's results: a text summary or one JSON object on stdout. */
#ifndef LOADGEN_REPORT_H
#define LOADGEN_REPORT_H

#include <stdio.h>

#include "loadgen_opts.h"
#include "loadgen_stats.h"

void	loadgen_report_text(FILE *fp, const struct loadgen_opts *o,
	    const struct loadgen_stats *st, double secs);
void	loadgen_report_json(FILE *fp, const struct loadgen_opts *o,
	    const struct loadgen_stats *st, double secs);

#endif
