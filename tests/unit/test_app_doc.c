/* test_app_doc.c - application documents: parsing, defaults, refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/doc.h"

static struct app_doc *ok(const char *xml)
{
	struct app_doc *d = NULL;
	char err[APP_DOC_ERR_MAX];
	int rc = app_doc_parse(xml, strlen(xml), &d, err, sizeof(err));

	if (rc)
		fail_msg("rc %d: %s\n%s", rc, err, xml);
	assert_non_null(d);
	return d;
}

/* Expects EBADMSG with a sentence containing `want`. */
static void bad(const char *xml, const char *want)
{
	struct app_doc *d = NULL;
	char err[APP_DOC_ERR_MAX];
	int rc = app_doc_parse(xml, strlen(xml), &d, err, sizeof(err));

	if (rc != EBADMSG || !strstr(err, want))
		fail_msg("rc %d err \"%s\", wanted \"%s\" for\n%s", rc, err,
			 want, xml);
	assert_null(d);
}

static void test_dial_defaults(void **state)
{
	struct app_doc *d;
	const struct app_dial *dl;

	(void)state;
	d = ok("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	       "<Response>\n"
	       "  <!-- a comment -->\n"
	       "  <Dial>\n"
	       "    <User>\n      sip:alice@example.com\n    </User>\n"
	       "    <Number>+14155551234</Number>\n"
	       "  </Dial>\n"
	       "</Response>\n");
	assert_int_equal(d->n, 1);
	assert_int_equal(d->verbs[0].kind, APP_VERB_DIAL);
	assert_int_equal(d->verbs[0].line, 4);
	dl = &d->verbs[0].u.dial;
	assert_int_equal(dl->timeout, 0); /* ring_timeout decides */
	assert_int_equal(dl->time_limit, 14400);
	assert_string_equal(dl->caller_id, "");
	assert_string_equal(dl->caller_name, "");
	assert_false(dl->has_caller_name);
	assert_string_equal(dl->action, "");
	assert_string_equal(dl->method, "POST");
	assert_true(dl->redirect);
	assert_int_equal(dl->ntargets, 2);
	assert_true(dl->targets[0].user);
	assert_string_equal(dl->targets[0].text, "sip:alice@example.com");
	assert_false(dl->targets[1].user);
	assert_string_equal(dl->targets[1].text, "+14155551234");
	assert_int_equal(dl->nheaders, 0);
	app_doc_free(d);
}

static void test_dial_attributes(void **state)
{
	struct app_doc *d;
	const struct app_dial *dl;

	(void)state;
	d = ok("<Response><Dial timeout=\" 20 \" timeLimit=\"60\" "
	       "callerId=\"+15550001\" callerName=\"Al &amp; &#233;\" "
	       "action=\"https://app.example.com/dial?x=1&amp;y=2\" "
	       "method=\"get\" redirect=\"FALSE\" "
	       "sipHeaders=\"a=1,Trace-Id=ab%20c\">"
	       "<User>sip:b@h.example:5080</User></Dial></Response>");
	dl = &d->verbs[0].u.dial;
	assert_int_equal(dl->timeout, 20);
	assert_int_equal(dl->time_limit, 60);
	assert_string_equal(dl->caller_id, "+15550001");
	assert_string_equal(dl->caller_name, "Al & \xc3\xa9");
	assert_true(dl->has_caller_name);
	assert_string_equal(dl->action, "https://app.example.com/dial?x=1&y=2");
	assert_string_equal(dl->method, "GET");
	assert_false(dl->redirect);
	assert_int_equal(dl->nheaders, 2);
	assert_string_equal(dl->headers[0].name, "X-PH-a");
	assert_string_equal(dl->headers[0].value, "1");
	assert_string_equal(dl->headers[1].name, "X-PH-Trace-Id");
	assert_string_equal(dl->headers[1].value, "ab%20c");
	app_doc_free(d);
}

static void test_other_verbs(void **state)
{
	struct app_doc *d;

	(void)state;
	d = ok("<Response><Wait/><Wait length=\"5\"></Wait>"
	       "<Redirect>http://a.example/next</Redirect>"
	       "<Redirect method=\"GET\"> https://a.example/n2 </Redirect>"
	       "<Hangup/><Hangup reason=\"busy\"/>"
	       "<Hangup reason=\"rejected\"> </Hangup></Response>");
	assert_int_equal(d->n, 7);
	assert_int_equal(d->verbs[0].kind, APP_VERB_WAIT);
	assert_int_equal(d->verbs[0].u.wait, 1);
	assert_int_equal(d->verbs[1].u.wait, 5);
	assert_int_equal(d->verbs[2].kind, APP_VERB_REDIRECT);
	assert_string_equal(d->verbs[2].u.redirect.url,
			    "http://a.example/next");
	assert_string_equal(d->verbs[2].u.redirect.method, "POST");
	assert_string_equal(d->verbs[3].u.redirect.url, "https://a.example/n2");
	assert_string_equal(d->verbs[3].u.redirect.method, "GET");
	assert_int_equal(d->verbs[4].kind, APP_VERB_HANGUP);
	assert_int_equal(d->verbs[4].u.hangup, APP_HANGUP_NONE);
	assert_int_equal(d->verbs[5].u.hangup, APP_HANGUP_BUSY);
	assert_int_equal(d->verbs[6].u.hangup, APP_HANGUP_REJECTED);
	assert_string_equal(app_verb_name(d->verbs[6].kind), "Hangup");
	app_doc_free(d);

	d = ok("<Response/>");
	assert_int_equal(d->n, 0);
	app_doc_free(d);
}

/* What the Plivo Node SDK's XML builder writes (plivoxml.js). */
static void test_sdk_shapes(void **state)
{
	struct app_doc *d;

	(void)state;
	d = ok("<Response><Dial callerId=\"1000\" timeout=\"30\">"
	       "<User>sip:bob@sip.example.com</User>"
	       "<Number>919999999999</Number></Dial></Response>");
	assert_int_equal(d->verbs[0].u.dial.ntargets, 2);
	app_doc_free(d);
}

static void test_media_verbs(void **state)
{
	static const char *const v[] = {
	    "Speak",  "Play",	   "GetDigits",	 "GetInput", "Gather",
	    "Record", "PreAnswer", "Conference", "DTMF",     "Stream"};
	char xml[128], want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(xml, sizeof(xml), "<Response><%s>x</%s></Response>",
			 v[i], v[i]);
		snprintf(want, sizeof(want), "line 1: %s needs media", v[i]);
		bad(xml, want);
	}
	bad("<Response><Dial><User>sip:a@b</User></Dial><Speak>hi</Speak>"
	    "</Response>",
	    "Speak needs media");
}

static void test_invalid(void **state)
{
	(void)state;
	bad("", "not well-formed");
	bad("<Response>", "not well-formed");
	bad("<Response></response>", "not well-formed");
	bad("<Reply/>", "root element must be Response");
	bad("<response/>", "root element must be Response");
	bad("<Response a=\"1\"/>", "Response takes no attributes");
	bad("<Response>hello</Response>", "Response takes no text");
	bad("<Response><Play2/></Response>", "Play2 is not a verb");
	bad("<Response><dial><User>sip:a@b</User></dial></Response>",
	    "dial is not a verb");
	bad("<Response><Dial/></Response>", "at least one User or Number");
	bad("<Response><Dial>x<User>sip:a@b</User></Dial></Response>",
	    "Dial takes no text");
	bad("<Response><Dial><Conference>c</Conference></Dial></Response>",
	    "only User and Number, not Conference");
	bad("<Response><Dial><User>alice</User></Dial></Response>",
	    "User must be a SIP URI");
	bad("<Response><Dial><User>sip:a b@c</User></Dial></Response>",
	    "User must be a SIP URI");
	bad("<Response><Dial><User>sip:a@b;transport=tcp</User></Dial>"
	    "</Response>",
	    "User must be a SIP URI");
	bad("<Response><Dial><User><x/></User></Dial></Response>",
	    "User may hold only text");
	bad("<Response><Dial><User sendDigits=\"1\">sip:a@b</User></Dial>"
	    "</Response>",
	    "User: attribute \"sendDigits\" is not supported");
	bad("<Response><Dial><Number>12</Number></Dial></Response>",
	    "Number must be 3 to 20 digits");
	bad("<Response><Dial><Number>+1-555</Number></Dial></Response>",
	    "Number must be");
	bad("<Response><Dial><Number>123456789012345678901</Number></Dial>"
	    "</Response>",
	    "Number must be");
	bad("<Response><Dial timeout=\"0\"><Number>123</Number></Dial>"
	    "</Response>",
	    "Dial: timeout must be an integer from 1 to 3600");
	bad("<Response><Dial timeout=\"-5\"><Number>123</Number></Dial>"
	    "</Response>",
	    "timeout must be");
	bad("<Response><Dial timeout=\"1e3\"><Number>123</Number></Dial>"
	    "</Response>",
	    "timeout must be");
	bad("<Response><Dial timeLimit=\"99999999999\"><Number>123</Number>"
	    "</Dial></Response>",
	    "timeLimit must be");
	bad("<Response><Dial redirect=\"yes\"><Number>123</Number></Dial>"
	    "</Response>",
	    "redirect must be true or false");
	bad("<Response><Dial method=\"PUT\"><Number>123</Number></Dial>"
	    "</Response>",
	    "method must be GET or POST");
	bad("<Response><Dial action=\"ftp://x/\"><Number>123</Number></Dial>"
	    "</Response>",
	    "action must be an absolute http or https URL");
	bad("<Response><Dial action=\"/relative\"><Number>123</Number>"
	    "</Dial></Response>",
	    "action must be");
	bad("<Response><Dial callerId=\"a b\"><Number>123</Number></Dial>"
	    "</Response>",
	    "callerId must be");
	bad("<Response><Dial callerName=\"a&#10;b\"><Number>123</Number>"
	    "</Dial></Response>",
	    "callerName must be");
	bad("<Response><Dial dialMusic=\"real\"><Number>123</Number></Dial>"
	    "</Response>",
	    "Dial: attribute \"dialMusic\" is not supported");
	bad("<Response><Dial timeLimt=\"5\"><Number>123</Number></Dial>"
	    "</Response>",
	    "attribute \"timeLimt\" is not supported");
	bad("<Response><Hangup reason=\"busy \"/><Hangup reason=\"x\"/>"
	    "</Response>",
	    "line 1: Hangup: reason must be busy or rejected");
	bad("<Response><Hangup schedule=\"60\"/></Response>",
	    "attribute \"schedule\" is not supported");
	bad("<Response><Hangup>now</Hangup></Response>",
	    "Hangup takes no text");
	bad("<Response><Wait length=\"0\"/></Response>",
	    "Wait: length must be an integer from 1 to 3600");
	bad("<Response><Wait beep=\"true\"/></Response>",
	    "attribute \"beep\" is not supported");
	bad("<Response><Wait><Hangup/></Wait></Response>",
	    "Wait takes no child elements");
	bad("<Response><Redirect/></Response>", "Redirect needs a URL");
	bad("<Response><Redirect>next.xml</Redirect></Response>",
	    "Redirect: its URL must be an absolute http or https URL");
	bad("<Response><Redirect method=\"HEAD\">http://a/</Redirect>"
	    "</Response>",
	    "method must be GET or POST");
}

static void test_sip_headers(void **state)
{
	char xml[1024];
	struct app_doc *d;

	(void)state;
	bad("<Response><Dial sipHeaders=\"a\"><Number>123</Number></Dial>"
	    "</Response>",
	    "sipHeaders must be name=value pairs");
	bad("<Response><Dial sipHeaders=\"a=1,\"><Number>123</Number></Dial>"
	    "</Response>",
	    "sipHeaders must be");
	bad("<Response><Dial sipHeaders=\"a=\"><Number>123</Number></Dial>"
	    "</Response>",
	    "sipHeaders must be");
	bad("<Response><Dial sipHeaders=\"a=x&#13;&#10;Via: y\"><Number>123"
	    "</Number></Dial></Response>",
	    "sipHeaders must be");
	bad("<Response><Dial sipHeaders=\"a_b=1\"><Number>123</Number></Dial>"
	    "</Response>",
	    "sipHeaders must be");
	/* 19 characters + "X-PH-" is 24: the limit. */
	d = ok("<Response><Dial sipHeaders=\"abcdefghijklmnopqrs=1\"><Number>"
	       "123</Number></Dial></Response>");
	assert_string_equal(d->verbs[0].u.dial.headers[0].name,
			    "X-PH-abcdefghijklmnopqrs");
	app_doc_free(d);
	bad("<Response><Dial sipHeaders=\"abcdefghijklmnopqrst=1\"><Number>"
	    "123</Number></Dial></Response>",
	    "sipHeaders must be");
	snprintf(xml, sizeof(xml),
		 "<Response><Dial sipHeaders=\"%s\"><Number>123</Number>"
		 "</Dial></Response>",
		 "a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1,k=1");
	bad(xml, "sipHeaders has more than 10 pairs");
}

static void test_limits(void **state)
{
	size_t cap = APP_DOC_MAX + 64, n = 0;
	char *xml = malloc(cap);
	struct app_doc *d;

	(void)state;
	assert_non_null(xml);
	n += (size_t)snprintf(xml, cap, "<Response><Dial>");
	for (int i = 0; i < APP_DIAL_TARGETS_MAX + 1; i++)
		n += (size_t)snprintf(xml + n, cap - n, "<Number>%d</Number>",
				      100 + i);
	snprintf(xml + n, cap - n, "</Dial></Response>");
	bad(xml, "Dial has more than 10 User and Number elements");

	n = (size_t)snprintf(xml, cap, "<Response>");
	for (int i = 0; i < APP_DOC_VERBS_MAX; i++)
		n += (size_t)snprintf(xml + n, cap - n, "<Wait/>");
	snprintf(xml + n, cap - n, "</Response>");
	d = ok(xml);
	assert_int_equal(d->n, APP_DOC_VERBS_MAX);
	app_doc_free(d);
	snprintf(xml + n, cap - n, "<Wait/></Response>");
	bad(xml, "more than 100 verbs");

	/* Over 100 KB is refused before parsing, even when well-formed. */
	n = (size_t)snprintf(xml, cap, "<Response>");
	memset(xml + n, ' ', APP_DOC_MAX);
	snprintf(xml + APP_DOC_MAX - 11 + 1, cap - APP_DOC_MAX, "</Response>");
	assert_int_equal(strlen(xml), APP_DOC_MAX + 1);
	bad(xml, "larger than 102400 bytes");
	xml[APP_DOC_MAX - 11] = '\0';
	strcat(xml, "</Response>");
	assert_int_equal(strlen(xml), APP_DOC_MAX);
	d = ok(xml);
	app_doc_free(d);
	free(xml);
}

/* No DTD, no entities, no network, no PIs. */
static void test_xml_hazards(void **state)
{
	(void)state;
	bad("<?xml version=\"1.0\"?>\n<!DOCTYPE Response [\n"
	    "<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]>\n"
	    "<Response><Redirect>http://x/&b;</Redirect></Response>",
	    "not allowed");
	bad("<!DOCTYPE Response SYSTEM \"http://127.0.0.1:1/x.dtd\">"
	    "<Response/>",
	    "DOCTYPE is not allowed");
	bad("<!DOCTYPE Response [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	    "<Response><Redirect>http://a/&x;</Redirect></Response>",
	    "not allowed");
	bad("<Response><Redirect>http://a/&undefined;</Redirect></Response>",
	    "not well-formed");
	bad("<?pi x?><Response/>", "processing instructions are not allowed");
	bad("<Response><?pi x?></Response>",
	    "processing instructions are not allowed");
	bad("<Response xmlns=\"urn:x\"/>", "root element must be Response");
	bad("<Response><x:Dial xmlns:x=\"urn:x\"/></Response>",
	    "in a namespace");
	bad("<Response>\x01</Response>", "not well-formed");
	bad("<Response><Redirect>http://a/\xff</Redirect></Response>",
	    "not well-formed");
}

/* The err buffer is optional and never overflows. */
static void test_err_buffer(void **state)
{
	struct app_doc *d = NULL;
	char small[8];
	const char *x = "<Response><Speak/></Response>";

	(void)state;
	assert_int_equal(app_doc_parse(x, strlen(x), &d, NULL, 0), EBADMSG);
	assert_int_equal(app_doc_parse(x, strlen(x), &d, small, sizeof(small)),
			 EBADMSG);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_null(d);
	app_doc_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dial_defaults),
	    cmocka_unit_test(test_dial_attributes),
	    cmocka_unit_test(test_other_verbs),
	    cmocka_unit_test(test_sdk_shapes),
	    cmocka_unit_test(test_media_verbs),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_sip_headers),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_xml_hazards),
	    cmocka_unit_test(test_err_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
