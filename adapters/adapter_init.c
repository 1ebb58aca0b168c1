/* The adapters' one-time set-up, before a role enters its sandbox: what
 * they would otherwise read from files on first use. */
#include <jansson.h>

#include "adapters/adapter.h"
#include "adapters/iso20022.h"
#include "adapters/tax.h"
#include "adapters/xml.h"

int
adapter_init(const char *dir, struct adapter_error *err)
{
	/* jansson seeds its hash function from /dev/urandom on first use;
	 * seeded here, the roles forked later inherit the seed. */
	json_object_seed(0);
	xml_init();
	if (xml_charset_preload() == -1) {
		adapter_fail(err, 500, "no-charset", NULL,
		    "iconv cannot convert GB18030 or GBK");
		return -1;
	}
	if (tax_init(dir, err) == -1 || iso20022_init(dir, err) == -1)
		return -1;
	return 0;
}
