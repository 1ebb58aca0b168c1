/* The refusal every adapter reports: the first reason wins. */
#include <stdarg.h>
#include <stdio.h>

#include "adapters/adapter.h"
#include "util.h"

void
adapter_fail(struct adapter_error *e, int status, const char *code,
    const char *field, const char *fmt, ...)
{
	va_list	ap;

	if (e == NULL || e->status != 0)
		return;
	e->status = status;
	str_copy(e->code, sizeof(e->code), code);
	str_copy(e->field, sizeof(e->field), field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
}
