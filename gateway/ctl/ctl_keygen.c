/* gatewayctl keygen: creates a signing key file (mode 0600, never overwriting) and
 * prints what counterparties need: the public key, its key id, a signed-note vkey. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "keeper/note.h"
#include "keeper/sign.h"
#include "witness/cosig.h"
#include "ctl/ctl.h"

static void
ctl_keygen_usage(void)
{
	fprintf(stderr,
	    "usage: gatewayctl keygen [--alg ed25519|ecdsa-p256|sm2] --out FILE "
	    "[--note-name ORIGIN | --witness-name NAME]\n"
	    "  --alg        signature algorithm (default ed25519)\n"
	    "  --out        new private key file, written with mode 0600; an\n"
	    "               existing file is never overwritten\n"
	    "  --note-name  (ed25519 only) also print the signed-note verifier key\n"
	    "               for checkpoints signed under this name, normally the\n"
	    "               log's origin\n"
	    "  --witness-name  (ed25519 only) a witness key: also print its\n"
	    "               cosignature/v1 verifier key (type 0x04) under NAME,\n"
	    "               for the logs that collect its cosignatures\n"
	    "Prints the public key (PEM), the algorithm and the key id (hex of the\n"
	    "first 8 bytes of SHA-256 of the DER SubjectPublicKeyInfo).\n");
}

/* Prints the vkey line for k under name; the key file already exists, so a
 * failure here is reported but the key stays. */
static int
ctl_keygen_print_vkey(const struct sign_key *k, const char *name)
{
	struct note_signer	ns;
	struct note_verifier	nv;
	char			vkey[NOTE_VKEY_MAX];

	if (note_signer_from_pkey(&ns, name, k->pkey) == -1)
		return -1;
	note_signer_verifier(&ns, &nv);
	note_signer_free(&ns);
	if (note_verifier_format(&nv, vkey, sizeof(vkey)) == -1)
		return -1;
	printf("note_vkey: %s\n", vkey);
	return 0;
}

/* The same for a witness: the cosignature vkey (type 0x04). */
static int
ctl_keygen_print_witness_vkey(const struct sign_key *k, const char *name)
{
	struct cosig_key	ck;
	char			vkey[NOTE_VKEY_MAX];
	int			rc;

	if (cosig_key_from_pkey(&ck, name, k->pkey) == -1)
		return -1;
	rc = cosig_key_vkey(&ck, vkey, sizeof(vkey));
	cosig_key_free(&ck);
	if (rc == -1)
		return -1;
	printf("witness_vkey: %s\n", vkey);
	return 0;
}

static int
ctl_keygen_run(int argc, char *argv[])
{
	static const struct option	opts[] = {
		{ "alg",	required_argument,	NULL, 'a' },
		{ "out",	required_argument,	NULL, 'o' },
		{ "note-name",	required_argument,	NULL, 'n' },
		{ "witness-name", required_argument,	NULL, 'w' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 },
	};
	struct sign_key	*k = NULL;
	enum sign_alg	 alg = SIGN_ALG_ED25519;
	const char	*out = NULL, *note_name = NULL, *witness_name = NULL;
	char		 pem[SIGN_MAX_PEM];
	int		 ch, rc = CTL_EXIT_FAIL;

	optind = 1;
	opterr = 0;	/* reported below, naming the command */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (sign_alg_parse(optarg, &alg) == -1) {
				fprintf(stderr, "gatewayctl keygen: unknown "
				    "algorithm \"%s\"\n", optarg);
				ctl_keygen_usage();
				return CTL_EXIT_USAGE;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'n':
			note_name = optarg;
			break;
		case 'w':
			witness_name = optarg;
			break;
		case 'h':
			ctl_keygen_usage();
			return CTL_EXIT_USAGE;
		default:
			fprintf(stderr, "gatewayctl keygen: bad option \"%s\"\n",
			    argv[optind - 1]);
			ctl_keygen_usage();
			return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc || out == NULL || *out == '\0') {
		fprintf(stderr, "gatewayctl keygen: %s\n", optind != argc ?
		    "unexpected argument" : "--out FILE is required");
		ctl_keygen_usage();
		return CTL_EXIT_USAGE;
	}
	/* Checked before anything is written, so a usage error leaves no key. */
	if (note_name != NULL && witness_name != NULL) {
		fprintf(stderr, "gatewayctl keygen: a key is a log key or a "
		    "witness key, not both\n");
		return CTL_EXIT_USAGE;
	}
	if ((note_name != NULL || witness_name != NULL) &&
	    alg != SIGN_ALG_ED25519) {
		fprintf(stderr, "gatewayctl keygen: --note-name and --witness-name "
		    "need ed25519 (signed-note keys are Ed25519)\n");
		return CTL_EXIT_USAGE;
	}
	if (witness_name != NULL)
		note_name = witness_name;
	if (note_name != NULL && !note_name_valid(note_name)) {
		fprintf(stderr, "gatewayctl keygen: invalid note name: 1 to %d "
		    "bytes, no spaces, no '+'\n", NOTE_NAME_MAX);
		return CTL_EXIT_USAGE;
	}

	if (sign_key_generate(alg, &k) == -1)
		goto done;
	if (sign_key_write_private(k, out) == -1) {
		fprintf(stderr, "gatewayctl keygen: cannot create %s (it must not "
		    "exist yet)\n", out);
		goto done;
	}
	if (sign_key_public_pem(k, pem, sizeof(pem)) == -1)
		goto done;
	printf("%salg: %s\nkey_id: %s\n", pem, sign_alg_name(k->alg), k->key_id);
	if (witness_name != NULL ?
	    ctl_keygen_print_witness_vkey(k, witness_name) == -1 :
	    note_name != NULL && ctl_keygen_print_vkey(k, note_name) == -1)
		goto done;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn("%s: writing to stdout", __func__);
		goto done;
	}
	rc = CTL_EXIT_OK;
done:
	sign_key_free(k);
	return rc;
}

const struct ctl_command ctl_keygen_command = {
	.name = "keygen",
	.synopsis = "[--alg ed25519|ecdsa-p256|sm2] --out FILE "
	    "[--note-name ORIGIN | --witness-name NAME]",
	.help = "create a signing key (mode 0600) and print its public key and id",
	.run = ctl_keygen_run,
};
