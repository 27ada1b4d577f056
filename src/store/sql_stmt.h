/*
 * sql_stmt.h - every statement of the store, once for both backends: one
 * STMT(ID, name, SQL) each, or STMT_D(ID, name, SQLite SQL, PostgreSQL SQL)
 * where the SQL truly differs. The name is what errors are logged under.
 * Placeholders are ?N (PostgreSQL's driver rewrites them to $N once, at
 * prepare), so no other '?' may appear in the SQL. Included by sql.h (the
 * ids) and sql.c (the texts) with their own STMT and STMT_D: no guard.
 */
#ifndef STORE_SQL_STMT_FIELDS
#define STORE_SQL_STMT_FIELDS

/*
 * The columns of each row type, in the order the readers in sql.c read
 * them: F(type, column, struct field), S between two. The SELECT lists
 * below are made from these, so a column has one place.
 */
/* clang-format off */
#define ACCOUNT_FIELDS(F, S)						\
	F(I64, id, id) S						\
	F(TEXT, auth_id, auth_id) S					\
	F(TEXT, name, name) S						\
	F(TEXT, domain, domain) S					\
	F(TEXT, token_sha256, token_sha256) S				\
	F(TEXT, token_enc, token_enc) S					\
	F(I64, created_ms, created_ms)

#define APP_FIELDS(F, S)						\
	F(I64, id, id) S						\
	F(I64, account_id, account_id) S				\
	F(TEXT, app_id, app_id) S					\
	F(TEXT, app_name, app_name) S					\
	F(TEXT, answer_url, answer_url) S				\
	F(TEXT, answer_method, answer_method) S				\
	F(TEXT, hangup_url, hangup_url) S				\
	F(TEXT, hangup_method, hangup_method) S				\
	F(TEXT, fallback_answer_url, fallback_answer_url) S		\
	F(TEXT, fallback_method, fallback_method) S			\
	F(TEXT, message_url, message_url) S				\
	F(TEXT, message_method, message_method) S			\
	F(BOOL, default_endpoint_app, default_endpoint_app) S		\
	F(I64, created_ms, created_ms) S				\
	F(I64, updated_ms, updated_ms)

/* An endpoint and the parts of its application that calls need. */
#define ENDPOINT_FIELDS(F, S)						\
	F(I64, e.id, id) S						\
	F(I64, e.account_id, account_id) S				\
	F(TEXT, e.endpoint_id, endpoint_id) S				\
	F(TEXT, e.username, username) S					\
	F(TEXT, e.domain, domain) S					\
	F(TEXT, e.alias, alias) S					\
	F(TEXT, e.ha1_md5, ha1_md5) S					\
	F(TEXT, e.ha1_sha256, ha1_sha256) S				\
	F(I64, e.app_ref, app_ref) S					\
	F(TEXT, a.app_id, app.app_id) S					\
	F(TEXT, a.app_name, app.app_name) S				\
	F(TEXT, a.answer_url, app.answer_url) S				\
	F(TEXT, a.answer_method, app.answer_method) S			\
	F(BOOL, e.allow_voice, allow[MODEL_ALLOW_VOICE]) S		\
	F(BOOL, e.allow_message, allow[MODEL_ALLOW_MESSAGE]) S		\
	F(BOOL, e.allow_video, allow[MODEL_ALLOW_VIDEO]) S		\
	F(BOOL, e.allow_same_domain, allow[MODEL_ALLOW_SAME_DOMAIN]) S	\
	F(BOOL, e.allow_other_domains, allow[MODEL_ALLOW_OTHER_DOMAINS]) S \
	F(BOOL, e.allow_phones, allow[MODEL_ALLOW_PHONES]) S		\
	F(BOOL, e.allow_apps, allow[MODEL_ALLOW_APPS]) S		\
	F(I64, e.created_ms, created_ms) S				\
	F(I64, e.updated_ms, updated_ms)

#define BINDING_FIELDS(F, S)						\
	F(I64, endpoint_ref, endpoint_ref) S				\
	F(TEXT, contact, contact) S					\
	F(TEXT, q, q) S							\
	F(I64, expires_ms, expires_ms) S				\
	F(TEXT, call_id, call_id) S					\
	F(U32, cseq, cseq) S						\
	F(TEXT, user_agent, user_agent) S				\
	F(TEXT, received, received) S					\
	F(TEXT, transport, transport) S					\
	F(I64, updated_ms, updated_ms) S				\
	F(TEXT, path, path)

#define CDR_FIELDS(F, S)						\
	F(I64, id, id) S						\
	F(I64, account_id, account_id) S				\
	F(TEXT, call_uuid, call_uuid) S					\
	F(TEXT, parent_call_uuid, parent_call_uuid) S			\
	F(I64, endpoint_ref, endpoint_ref) S				\
	F(TEXT, endpoint_id, endpoint_id) S				\
	F(TEXT, from_number, from_number) S				\
	F(TEXT, to_number, to_number) S					\
	F(TEXT, caller_name, caller_name) S				\
	F(TEXT, call_direction, call_direction) S			\
	F(I64, initiation_ms, initiation_ms) S				\
	F(I64, answer_ms, answer_ms) S					\
	F(I64, end_ms, end_ms) S					\
	F(I64, call_duration, call_duration) S				\
	F(I64, bill_duration, bill_duration) S				\
	F(TEXT, hangup_cause_name, hangup_cause_name) S			\
	F(INT, hangup_cause_code, hangup_cause_code) S			\
	F(TEXT, hangup_source, hangup_source)

#define LIVE_FIELDS(F, S)						\
	F(TEXT, call_uuid, call_uuid) S					\
	F(I64, account_id, account_id) S				\
	F(TEXT, node_id, node_id) S					\
	F(TEXT, direction, direction) S					\
	F(TEXT, from_number, from) S					\
	F(TEXT, to_number, to) S					\
	F(TEXT, caller_name, caller_name) S				\
	F(TEXT, call_status, call_status) S				\
	F(I64, session_start_ms, session_start_ms) S			\
	F(I64, updated_ms, updated_ms) S				\
	F(BOOL, hangup_requested, hangup_requested)
/* clang-format on */

#define SQL_COLUMN(type, column, field) #column
#define ACCOUNT_SELECT \
	"SELECT " ACCOUNT_FIELDS(SQL_COLUMN, ", ") " FROM accounts "
#define APP_SELECT "SELECT " APP_FIELDS(SQL_COLUMN, ", ") " FROM applications "
#define ENDPOINT_SELECT                                                       \
	"SELECT " ENDPOINT_FIELDS(SQL_COLUMN, ", ") " FROM endpoints e"       \
						    " LEFT JOIN applications" \
						    " a ON a.id = e.app_ref "

/*
 * The list filters, on the endpoints table alone: with no filter given, no
 * row is read, only the (account_id, id) index - so counting and skipping
 * to an offset cost index steps, not row reads. PostgreSQL needs the
 * parameters' types (T, I) and names its functions differently. ?9: with
 * (1) or without (0) a binding live at ?10.
 */
#define EP_FILTER(T, I, POS, PREFIX)                              \
	"WHERE e.account_id = ?1"                                 \
	" AND (?2" T " IS NULL OR e.username = ?2)"               \
	" AND (?3" T " IS NULL OR " POS "(e.username, ?3) > 0)"   \
	" AND (?4" T " IS NULL OR " PREFIX " = ?4)"               \
	" AND (?5" T " IS NULL OR e.alias = ?5)"                  \
	" AND (?6" T " IS NULL OR " POS "(e.alias, ?6) > 0)"      \
	" AND (?7" T " IS NULL OR e.app_ref IN"                   \
	"      (SELECT id FROM applications WHERE app_id = ?7))"  \
	" AND (?8" I " IS NULL OR (?8 = 1 AND e.app_ref IS NULL)" \
	"      OR (?8 = 0 AND e.app_ref IS NOT NULL))"            \
	" AND (?9" I " IS NULL OR (?9 = 1) = EXISTS"              \
	"      (SELECT 1 FROM registrations r WHERE"              \
	"       r.endpoint_ref = e.id AND r.expires_ms > ?10)) "
#define EP_FILTER_SQLITE \
	EP_FILTER("", "", "instr", "substr(e.username, 1, length(?4))")
#define EP_FILTER_PG                               \
	EP_FILTER("::TEXT", "::INTEGER", "strpos", \
		  "left(e.username, length(?4))")

/*
 * The page's ids first (index only), then its rows and applications. ?13:
 * the id that the page comes after (keyset paging; 0 from the first).
 */
#define EP_LIST(FILTER)                                                       \
	ENDPOINT_SELECT "WHERE e.id IN (SELECT e.id FROM endpoints e " FILTER \
			"AND e.id > ?13 ORDER BY e.id LIMIT ?11 OFFSET ?12)"  \
			" ORDER BY e.id"

/*
 * The live bindings of the page EP_LIST reads (its subquery, its parameters;
 * ?14: now), in endpoint and row order: one query for a page, not one per
 * endpoint.
 */
#define BIND_PAGE(FILTER)                                               \
	"SELECT " BINDING_FIELDS(                                       \
	    SQL_COLUMN,                                                 \
	    ", ") " FROM registrations"                                 \
		  " WHERE endpoint_ref IN (SELECT e.id FROM endpoints " \
		  "e " FILTER                                           \
		  "AND e.id > ?13 ORDER BY e.id LIMIT ?11 OFFSET ?12)"  \
		  " AND expires_ms > ?14 ORDER BY endpoint_ref, id"

#define CDR_SELECT "SELECT " CDR_FIELDS(SQL_COLUMN, ", ") " FROM cdrs "
#define LIVE_SELECT "SELECT " LIVE_FIELDS(SQL_COLUMN, ", ") " FROM live_calls "

/*
 * A CDR list: the account, end_ms between two bounds (always bound: svc
 * folds the four end_time filters into one range), then the other filters,
 * NULL for none. Unfiltered but for the range, the (account_id, end_ms, id)
 * index alone counts and pages (CDR_COUNT_ALL, CDR_LIST_ALL).
 */
#define CDR_RANGE "WHERE account_id = ?1 AND end_ms >= ?2 AND end_ms <= ?3 "
#define CDR_FILTER(T, I)                                          \
	CDR_RANGE " AND (?4" T " IS NULL OR call_direction = ?4)" \
		  " AND (?5" T " IS NULL OR from_number = ?5)"    \
		  " AND (?6" T " IS NULL OR to_number = ?6)"      \
		  " AND (?7" I " IS NULL OR hangup_cause_code = ?7) "
#define CDR_ORDER "ORDER BY end_ms DESC, id DESC "

#define APP_CLEAR_DEFAULT(MAX)                                            \
	"UPDATE applications SET default_endpoint_app = 0,"               \
	" updated_ms = " MAX "(updated_ms + 1, ?3) WHERE account_id = ?1" \
	" AND id <> ?2 AND default_endpoint_app = 1"

#endif

STMT(ACC_INSERT, "account_insert",
     "INSERT INTO accounts (auth_id, name, domain, token_sha256, created_ms,"
     " token_enc) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id")
STMT(ACC_GET, "account_get", ACCOUNT_SELECT "WHERE auth_id = ?1")
STMT(ACC_GET_REF, "account_get_ref", ACCOUNT_SELECT "WHERE id = ?1")
STMT(ACC_SET_TOKEN, "account_token_set",
     "UPDATE accounts SET token_sha256 = ?2, token_enc = ?3"
     " WHERE auth_id = ?1")
/* The newest account whose token is sealed (svc_key_check). */
STMT(ACC_GET_SEALED, "account_get_sealed",
     ACCOUNT_SELECT "WHERE token_enc <> '' ORDER BY id DESC LIMIT 1")
STMT(ACC_COUNT, "account_count", "SELECT count(*) FROM accounts")
STMT(ACC_LIST, "account_list", ACCOUNT_SELECT "ORDER BY id")

STMT(APP_INSERT, "app_insert",
     "INSERT INTO applications (account_id, app_id, app_name, answer_url,"
     " answer_method, hangup_url, hangup_method, fallback_answer_url,"
     " fallback_method, message_url, message_method, default_endpoint_app,"
     " created_ms, updated_ms)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
     " RETURNING id")
STMT(APP_GET, "app_get", APP_SELECT "WHERE account_id = ?1 AND app_id = ?2")
STMT(APP_GET_DEFAULT, "app_get_default",
     APP_SELECT "WHERE account_id = ?1 AND default_endpoint_app = 1"
		" ORDER BY id LIMIT 1")
STMT(APP_UPDATE, "app_update",
     "UPDATE applications SET app_name = ?3, answer_url = ?4,"
     " answer_method = ?5, hangup_url = ?6, hangup_method = ?7,"
     " fallback_answer_url = ?8, fallback_method = ?9, message_url = ?10,"
     " message_method = ?11, default_endpoint_app = ?12, updated_ms = ?14"
     " WHERE id = ?1 AND account_id = ?2 AND app_id = ?13")
STMT_D(APP_CLEAR_DEFAULT, "app_clear_default", APP_CLEAR_DEFAULT("max"),
       APP_CLEAR_DEFAULT("greatest"))
STMT(APP_DELETE, "app_delete", "DELETE FROM applications WHERE id = ?1")
STMT(APP_LIST, "app_list",
     APP_SELECT "WHERE account_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3")
STMT(APP_COUNT, "app_count",
     "SELECT count(*) FROM applications WHERE account_id = ?1")
STMT(APP_EP_COUNT, "app_endpoint_count",
     "SELECT count(*) FROM endpoints WHERE app_ref = ?1")

STMT(EP_INSERT, "endpoint_insert",
     "INSERT INTO endpoints (account_id, endpoint_id, username, domain,"
     " alias, ha1_md5, ha1_sha256, app_ref, allow_voice, allow_message,"
     " allow_video, allow_same_domain, allow_other_domains, allow_phones,"
     " allow_apps, created_ms, updated_ms)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
     " ?15, ?16, ?17) RETURNING id")
STMT(EP_GET, "endpoint_get",
     ENDPOINT_SELECT "WHERE e.account_id = ?1 AND e.endpoint_id = ?2")
STMT(EP_GET_BY_USER, "endpoint_get_by_user",
     ENDPOINT_SELECT "WHERE e.username = ?1 AND e.domain = ?2")
/* What a digest check needs, and nothing more (no join). */
/*
 * In PostgreSQL it writes the row (nothing changes: a new version of it)
 * and so locks it: see store_ops.endpoint_cred.
 */
STMT_D(EP_CRED, "endpoint_cred",
       "SELECT id, ha1_md5, ha1_sha256 FROM endpoints"
       " WHERE username = ?1 AND domain = ?2",
       "UPDATE endpoints SET ha1_md5 = ha1_md5"
       " WHERE username = ?1 AND domain = ?2"
       " RETURNING id, ha1_md5, ha1_sha256")
STMT(EP_UPDATE, "endpoint_update",
     "UPDATE endpoints SET alias = ?2, ha1_md5 = ?3, ha1_sha256 = ?4,"
     " app_ref = ?5, allow_voice = ?6, allow_message = ?7, allow_video = ?8,"
     " updated_ms = ?9 WHERE id = ?1")
STMT(EP_DELETE, "endpoint_delete", "DELETE FROM endpoints WHERE id = ?1")
STMT_D(EP_LIST, "endpoint_list", EP_LIST(EP_FILTER_SQLITE),
       EP_LIST(EP_FILTER_PG))
STMT_D(EP_COUNT, "endpoint_count",
       "SELECT count(*) FROM endpoints e " EP_FILTER_SQLITE,
       "SELECT count(*) FROM endpoints e " EP_FILTER_PG)
/* Unfiltered: the (account_id, id) index alone counts and skips. */
STMT(EP_LIST_ALL, "endpoint_list",
     ENDPOINT_SELECT "WHERE e.id IN (SELECT id FROM endpoints WHERE"
		     " account_id = ?1 AND id > ?4 ORDER BY id LIMIT ?2"
		     " OFFSET ?3) ORDER BY e.id")
STMT_D(BIND_PAGE, "binding_page", BIND_PAGE(EP_FILTER_SQLITE),
       BIND_PAGE(EP_FILTER_PG))
/* The same for EP_LIST_ALL's page (?5: now). */
STMT(
    BIND_PAGE_ALL, "binding_page",
    "SELECT " BINDING_FIELDS(
	SQL_COLUMN,
	", ") " FROM registrations"
	      " WHERE endpoint_ref IN (SELECT id FROM endpoints WHERE "
	      "account_id = ?1"
	      " AND id > ?4 ORDER BY id LIMIT ?2 OFFSET ?3) AND expires_ms > ?5"
	      " ORDER BY endpoint_ref, id")
/*
 * SQLite's triggers keep a counter per account (schema 3); in PostgreSQL
 * an index-only count serves, and a counter row would make concurrent
 * creates in one account conflict.
 */
STMT_D(EP_COUNT_ALL, "endpoint_count",
       "SELECT endpoint_count FROM accounts WHERE id = ?1",
       "SELECT count(*) FROM endpoints WHERE account_id = ?1")
STMT(EP_REASSIGN, "endpoints_reassign",
     "UPDATE endpoints SET app_ref = ?2, updated_ms = ?3 WHERE app_ref = ?1")
STMT(EP_DELETE_BY_APP, "endpoints_delete_by_app",
     "DELETE FROM endpoints WHERE app_ref = ?1")

STMT(BIND_LIST, "binding_list",
     "SELECT " BINDING_FIELDS(SQL_COLUMN, ", ") " FROM registrations"
						" WHERE endpoint_ref = ?1 AND"
						" expires_ms > ?2 ORDER BY id")
STMT(BIND_DELETE_ALL, "binding_delete_all",
     "DELETE FROM registrations WHERE endpoint_ref = ?1")
STMT(BIND_INSERT, "binding_insert",
     "INSERT INTO registrations (endpoint_ref, contact, q, expires_ms,"
     " call_id, cseq, user_agent, received, transport, updated_ms, path)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
/* A refresh: the same contact, updated in place (index entries kept). */
STMT(BIND_UPSERT, "binding_upsert",
     "INSERT INTO registrations (endpoint_ref, contact, q, expires_ms,"
     " call_id, cseq, user_agent, received, transport, updated_ms, path)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
     " ON CONFLICT (endpoint_ref, contact) DO UPDATE SET q = excluded.q,"
     " expires_ms = excluded.expires_ms, call_id = excluded.call_id,"
     " cseq = excluded.cseq, user_agent = excluded.user_agent,"
     " received = excluded.received, transport = excluded.transport,"
     " updated_ms = excluded.updated_ms, path = excluded.path")
/* Every contact the endpoint has rows for, live or not (the index alone). */
STMT(BIND_CONTACTS, "binding_contacts",
     "SELECT contact FROM registrations WHERE endpoint_ref = ?1")
/* In PostgreSQL it first locks the endpoints it deletes rows of, so that
 * it takes turns with their REGISTERs (see store_ops.endpoint_cred). */
STMT_D(BIND_DROP_CONN, "binding_drop_conn",
       "DELETE FROM registrations WHERE received = ?1 AND transport = ?2",
       "WITH l AS (SELECT id FROM endpoints WHERE id IN"
       " (SELECT endpoint_ref FROM registrations"
       " WHERE received = ?1 AND transport = ?2) FOR NO KEY UPDATE)"
       " DELETE FROM registrations WHERE received = ?1 AND transport = ?2"
       " AND endpoint_ref IN (SELECT id FROM l)")
/* The live registrations, for the metrics (a scrape, not a request). */
STMT(BIND_COUNT, "binding_count",
     "SELECT count(DISTINCT endpoint_ref), count(*) FROM registrations"
     " WHERE expires_ms > ?1")
STMT(BIND_SWEEP, "binding_sweep",
     "DELETE FROM registrations WHERE id IN (SELECT id FROM registrations"
     " WHERE expires_ms <= ?1 LIMIT ?2)")

STMT(CDR_INSERT, "cdr_insert",
     "INSERT INTO cdrs (account_id, call_uuid, parent_call_uuid,"
     " endpoint_ref, endpoint_id, from_number, to_number, caller_name,"
     " call_direction, initiation_ms, answer_ms, end_ms, call_duration,"
     " bill_duration, hangup_cause_name, hangup_cause_code, hangup_source)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
     " ?15, ?16, ?17) ON CONFLICT (call_uuid) DO NOTHING")
STMT(CDR_GET, "cdr_get", CDR_SELECT "WHERE account_id = ?1 AND call_uuid = ?2")
STMT_D(CDR_LIST, "cdr_list",
       CDR_SELECT CDR_FILTER("", "") CDR_ORDER "LIMIT ?8 OFFSET ?9",
       CDR_SELECT CDR_FILTER("::TEXT", "::BIGINT") CDR_ORDER
       "LIMIT ?8 OFFSET ?9")
STMT_D(CDR_COUNT, "cdr_count", "SELECT count(*) FROM cdrs " CDR_FILTER("", ""),
       "SELECT count(*) FROM cdrs " CDR_FILTER("::TEXT", "::BIGINT"))
/* The page's ids first (index only), then its rows. */
STMT(CDR_LIST_ALL, "cdr_list",
     CDR_SELECT "WHERE id IN (SELECT id FROM cdrs " CDR_RANGE CDR_ORDER
		"LIMIT ?4 OFFSET ?5) " CDR_ORDER)
STMT(CDR_COUNT_ALL, "cdr_count", "SELECT count(*) FROM cdrs " CDR_RANGE)
STMT(CDR_SWEEP, "cdr_sweep",
     "DELETE FROM cdrs WHERE id IN (SELECT id FROM cdrs"
     " WHERE end_ms < ?1 LIMIT ?2)")

/* A new call, or a known one's new status (its other columns stay). */
STMT(LIVE_PUT, "live_put",
     "INSERT INTO live_calls (call_uuid, account_id, node_id, direction,"
     " from_number, to_number, caller_name, call_status, session_start_ms,"
     " updated_ms, hangup_requested)"
     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)"
     " ON CONFLICT (call_uuid) DO UPDATE SET"
     " call_status = excluded.call_status, updated_ms = excluded.updated_ms")
STMT(LIVE_DELETE, "live_delete", "DELETE FROM live_calls WHERE call_uuid = ?1")
STMT(LIVE_LIST, "live_list",
     "SELECT call_uuid FROM live_calls WHERE account_id = ?1"
     " AND updated_ms > ?2 ORDER BY session_start_ms, call_uuid LIMIT ?3")
STMT(LIVE_GET, "live_get",
     LIVE_SELECT "WHERE call_uuid = ?1 AND account_id = ?2"
		 " AND updated_ms > ?3")
STMT(LIVE_HANGUP, "live_hangup",
     "UPDATE live_calls SET hangup_requested = 1 WHERE call_uuid = ?1"
     " AND account_id = ?2 AND updated_ms > ?3")
STMT(LIVE_DUE, "live_due",
     "SELECT call_uuid FROM live_calls WHERE node_id = ?1"
     " AND hangup_requested = 1 ORDER BY call_uuid LIMIT ?2")
STMT(LIVE_TOUCH, "live_touch",
     "UPDATE live_calls SET updated_ms = ?2 WHERE node_id = ?1")
STMT(LIVE_SWEEP, "live_sweep", "DELETE FROM live_calls WHERE updated_ms < ?1")
