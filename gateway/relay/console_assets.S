/* The supervision console's files (console/), embedded read-only in the
 * binary: relay workers may open no file (Landlock), and the page installed
 * is always the one built with the daemon. Each file lies between its
 * symbol and symbol_end (a NUL follows, not counted). */

	.macro	console_asset sym, path
	.section .rodata.console, "a"
	.balign	16
	.globl	\sym
	.hidden	\sym
	.type	\sym, @object
\sym:
	.incbin	"\path"
	.globl	\sym\()_end
	.hidden	\sym\()_end
\sym\()_end:
	.byte	0
	.endm

	console_asset console_index_html, "console/index.html"
	console_asset console_app_js, "console/app.js"
	console_asset console_app_css, "console/app.css"
	console_asset console_favicon_svg, "console/favicon.svg"

	/* No executable stack. */
	.section .note.GNU-stack, "", @progbits
