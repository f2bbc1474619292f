/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_ERRORS_H
#define KBPIPELINE_ERRORS_H

#if defined(_WIN32)
#define KBP_EXTERN __declspec(dllexport)
#elif defined(__GNUC__)
#define KBP_EXTERN __attribute__((visibility("default")))
#else
#define KBP_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every function that can fail returns 0 on success or one of these negative
 * codes; kbp_error_last() then holds the code and a message for this thread.
 */
typedef enum kbp_error_code {
	KBP_OK = 0,
	KBP_EINVAL = -1,      /* an argument is missing, malformed or out of range */
	KBP_ENOMEM = -2,      /* memory could not be allocated */
	KBP_ENOTFOUND = -3,   /* the named vendor, product, cart, intent, job or order does not exist */
	KBP_ECONFLICT = -4,   /* reuse of a key with different parameters, or a concurrent change */
	KBP_EOUTOFSTOCK = -5, /* a line cannot be reserved; nothing was reserved */
	KBP_EINACTIVE = -6,   /* the product is not active */
	KBP_EEMPTY = -7,      /* the cart has no items */
	KBP_ESTATE = -8,      /* the object's state does not allow the operation */
	KBP_ESIGNATURE = -9,  /* a callback's authentication failed */
	KBP_EAMOUNT = -10,    /* the paid amount or currency differs from the intent's */
	KBP_ETOOBIG = -11,    /* an input exceeds its size limit */
	KBP_EPARSE = -12,     /* malformed base64, JSON or UTF-8 */
	KBP_EOVERFLOW = -13,  /* a total does not fit in 64 bits */
	KBP_ETIMEOUT = -14,   /* a wait ended before its condition held */
	KBP_ESTORAGE = -15,   /* the storage backend failed */
	KBP_EGATEWAY = -16,   /* the payment gateway failed or could not be reached */
	KBP_EVERSION = -17,   /* an unknown struct or backend version */
	KBP_EEXISTS = -18,    /* the object already exists */
	KBP_EPENDING = -19,   /* the gateway has not completed the payment yet */
	KBP_EDECLINED = -20,  /* the gateway reports the payment failed, canceled or refunded */
	KBP_ENOHANDLER = -21  /* no job handler is registered for a kind */
} kbp_error_code;

typedef struct kbp_error {
	int code;
	const char *message;
} kbp_error;

/* The last error set on the calling thread; never NULL (code 0 when none). */
KBP_EXTERN const kbp_error *kbp_error_last(void);
KBP_EXTERN void kbp_error_clear(void);
/* A static description of a KBP_E… code. */
KBP_EXTERN const char *kbp_strerror(int code);
/*
 * Sets the calling thread's last error and returns code, so that a job
 * handler or a backend can write `return kbp_error_set(KBP_EINVAL, "…", …);`.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
KBP_EXTERN int kbp_error_set(int code, const char *fmt, ...);
/* Frees a string the library returned through a char **out. */
KBP_EXTERN void kbp_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
