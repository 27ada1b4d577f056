/*
 * sql.h - internal to store/: the one statement table (sql_stmt.h), the
 * schema migrations and the entity operations (sql.c) that both backends
 * share, and the small driver interface through which sql.c runs a
 * statement on a backend. A backend converts values and maps errors; it
 * knows no entity. store_ops.drv points to the backend's driver.
 */
#ifndef STORE_SQL_H
#define STORE_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum sql_dialect { SQL_SQLITE, SQL_PG, SQL_DIALECTS };

enum sql_id {
#define STMT(id, name, sql) SQL_##id,
#define STMT_D(id, name, sqlite, pg) SQL_##id,
#include "store/sql_stmt.h"
#undef STMT
#undef STMT_D
	SQL_COUNT
};

/* The SQL of statement id in dialect d, with ?N placeholders. */
const char *sql_text(enum sql_dialect d, enum sql_id id);
/* The name a statement's errors are logged under. */
const char *sql_name(enum sql_id id);
/* The DDL taking the schema from version v to v + 1. */
const char *sql_migration(enum sql_dialect d, int v);

/* What step() returns when a row is ready. */
#define SQL_ROW (-1)

/*
 * A backend's prepared statement on one connection; each backend defines
 * it. One handle per statement id and connection: a statement runs once
 * at a time.
 */
struct sql_q;

struct sql_drv {
	enum sql_dialect dialect;
	/*
	 * Statement id on st's connection, with nothing bound (unbound
	 * parameters are NULL). Returns 0 or an errno.
	 */
	int (*get)(struct store *st, enum sql_id id, struct sql_q **out);
	/* Parameters count from 1. Text is not copied: keep it until reset. */
	void (*bind_int)(struct sql_q *q, int i, int64_t v);
	void (*bind_text)(struct sql_q *q, int i, const char *v);
	void (*bind_null)(struct sql_q *q, int i);
	/*
	 * Runs the statement, then moves to its next row: SQL_ROW, 0 when no
	 * row is left, or an errno (EEXIST unique conflict, ENOENT foreign
	 * key, EBUSY retryable, ETIMEDOUT deadline, EIO, logged).
	 */
	int (*step)(struct sql_q *q);
	/* The current row's columns, from 0; NULL reads as 0 or "". */
	int64_t (*col_int)(struct sql_q *q, int col);
	void (*col_text)(struct sql_q *q, int col, char *out, size_t cap);
	/* Rows the statement changed. */
	int64_t (*changes)(struct sql_q *q);
	/* Ends the run (after any step result); the statement stays ready. */
	void (*reset)(struct sql_q *q);
};

/* The entity operations of store_ops (store.h says what each does). */
int store_account_insert(struct store *st, struct model_account *a);
int store_account_get(struct store *st, const char *auth_id,
		      struct model_account *out);
int store_account_get_ref(struct store *st, int64_t id,
			  struct model_account *out);
int store_account_token_set(struct store *st, const char *auth_id,
			    const char *token_sha256, const char *token_enc);
int store_account_get_sealed(struct store *st, struct model_account *out);
int store_account_count(struct store *st, int64_t *n);
int store_binding_count(struct store *st, int64_t now_ms, int64_t *endpoints,
			int64_t *bindings);
int store_account_list(struct store *st, store_account_cb cb, void *ctx);
int store_app_insert(struct store *st, struct model_app *app);
int store_app_get(struct store *st, int64_t account_id, const char *app_id,
		  struct model_app *out);
int store_app_get_default(struct store *st, int64_t account_id,
			  struct model_app *out);
int store_app_update(struct store *st, const struct model_app *app);
int store_app_clear_default(struct store *st, int64_t account_id,
			    int64_t except_id, int64_t now_ms);
int store_app_delete(struct store *st, int64_t id);
int store_app_list(struct store *st, int64_t account_id, int64_t limit,
		   int64_t offset, store_app_cb cb, void *ctx, int64_t *total);
int store_app_endpoint_count(struct store *st, int64_t app_ref, int64_t *n);
int store_endpoint_insert(struct store *st, struct model_endpoint *ep);
int store_endpoint_get(struct store *st, int64_t account_id,
		       const char *endpoint_id, struct model_endpoint *out);
int store_endpoint_get_by_user(struct store *st, const char *username,
			       const char *domain, struct model_endpoint *out);
int store_endpoint_cred(struct store *st, const char *username,
			const char *domain, struct model_endpoint *out);
int store_endpoint_update(struct store *st, const struct model_endpoint *ep);
int store_endpoint_delete(struct store *st, int64_t id);
int store_endpoint_list(struct store *st, int64_t account_id,
			const struct store_endpoint_filter *f, int64_t limit,
			int64_t offset, store_endpoint_cb cb, void *ctx,
			int64_t *total);
int store_endpoints_reassign(struct store *st, int64_t from_app, int64_t to_app,
			     int64_t now_ms);
int store_endpoints_delete_by_app(struct store *st, int64_t app_ref);
int store_binding_list(struct store *st, int64_t endpoint_ref, int64_t now_ms,
		       store_binding_cb cb, void *ctx);
int store_binding_list_page(struct store *st, int64_t account_id,
			    const struct store_endpoint_filter *f,
			    int64_t limit, int64_t offset, int64_t now_ms,
			    store_binding_cb cb, void *ctx);
int store_binding_replace(struct store *st, int64_t endpoint_ref,
			  const struct model_binding *b, unsigned n);
int store_binding_sweep(struct store *st, int64_t now_ms, int64_t max,
			int64_t *n);
int store_binding_drop_conn(struct store *st, const char *received,
			    const char *transport, int64_t *n);

int store_cdr_insert(struct store *st, const struct model_cdr *c);
int store_cdr_get(struct store *st, int64_t account_id, const char *call_uuid,
		  struct model_cdr *out);
int store_cdr_list(struct store *st, int64_t account_id,
		   const struct store_cdr_filter *f, int64_t limit,
		   int64_t offset, store_cdr_cb cb, void *ctx, int64_t *total);
int store_cdr_sweep(struct store *st, int64_t before_ms, int64_t max,
		    int64_t *n);
int store_live_put(struct store *st, const struct model_live_call *l);
int store_live_delete(struct store *st, const char *call_uuid);
int store_live_list(struct store *st, int64_t account_id, int64_t since_ms,
		    char (*out)[MODEL_UUID_MAX], unsigned max, unsigned *n);
int store_live_get(struct store *st, int64_t account_id, const char *call_uuid,
		   int64_t since_ms, struct model_live_call *out);
int store_live_hangup(struct store *st, int64_t account_id,
		      const char *call_uuid, int64_t since_ms);
int store_live_due(struct store *st, const char *node_id,
		   char (*out)[MODEL_UUID_MAX], unsigned max, unsigned *n);
int store_live_touch(struct store *st, const char *node_id, int64_t now_ms,
		     int64_t *n);
int store_live_sweep(struct store *st, int64_t before_ms, int64_t *n);

/* The entity part of a backend's store_ops initializer. */
#define SQL_STORE_OPS                                                       \
	.account_insert = store_account_insert,                             \
	.account_get = store_account_get,                                   \
	.account_get_ref = store_account_get_ref,                           \
	.account_token_set = store_account_token_set,                       \
	.account_get_sealed = store_account_get_sealed,                     \
	.account_count = store_account_count,                               \
	.binding_count = store_binding_count,                               \
	.account_list = store_account_list, .app_insert = store_app_insert, \
	.app_get = store_app_get, .app_get_default = store_app_get_default, \
	.app_update = store_app_update,                                     \
	.app_clear_default = store_app_clear_default,                       \
	.app_delete = store_app_delete, .app_list = store_app_list,         \
	.app_endpoint_count = store_app_endpoint_count,                     \
	.endpoint_insert = store_endpoint_insert,                           \
	.endpoint_get = store_endpoint_get,                                 \
	.endpoint_get_by_user = store_endpoint_get_by_user,                 \
	.endpoint_cred = store_endpoint_cred,                               \
	.endpoint_update = store_endpoint_update,                           \
	.endpoint_delete = store_endpoint_delete,                           \
	.endpoint_list = store_endpoint_list,                               \
	.endpoints_reassign = store_endpoints_reassign,                     \
	.endpoints_delete_by_app = store_endpoints_delete_by_app,           \
	.binding_list = store_binding_list,                                 \
	.binding_list_page = store_binding_list_page,                       \
	.binding_replace = store_binding_replace,                           \
	.binding_sweep = store_binding_sweep,                               \
	.binding_drop_conn = store_binding_drop_conn,                       \
	.cdr_insert = store_cdr_insert, .cdr_get = store_cdr_get,           \
	.cdr_list = store_cdr_list, .cdr_sweep = store_cdr_sweep,           \
	.live_put = store_live_put, .live_delete = store_live_delete,       \
	.live_list = store_live_list, .live_get = store_live_get,           \
	.live_hangup = store_live_hangup, .live_due = store_live_due,       \
	.live_touch = store_live_touch, .live_sweep = store_live_sweep

#endif
