/*
 * target.c - the classification of what a caller dialled (calls contract,
 * "What was dialled").
 */
#include "call/target.h"

#include "model/field.h"

bool call_target_is_number(const char *user, size_t n)
{
	size_t i = 0;

	if (n > 0 && user[0] == '+')
		i = 1;
	if (n - i < 3 || n - i > 20)
		return false;
	for (; i < n; i++)
		if (user[i] < '0' || user[i] > '9')
			return false;
	return true;
}

enum call_target call_target_classify(bool host_ours, bool is_app,
				      bool is_endpoint, const char *user,
				      size_t n)
{
	if (!host_ours)
		return CALL_TARGET_OTHER_DOMAIN;
	if (is_app)
		return CALL_TARGET_APP;
	if (is_endpoint)
		return CALL_TARGET_ENDPOINT;
	if (call_target_is_number(user, n))
		return CALL_TARGET_PHONE;
	return CALL_TARGET_NONE;
}

enum model_allow call_target_flag(enum call_target k)
{
	switch (k) {
	case CALL_TARGET_APP:
		return MODEL_ALLOW_APPS;
	case CALL_TARGET_ENDPOINT:
		return MODEL_ALLOW_SAME_DOMAIN;
	case CALL_TARGET_PHONE:
		return MODEL_ALLOW_PHONES;
	case CALL_TARGET_OTHER_DOMAIN:
		return MODEL_ALLOW_OTHER_DOMAINS;
	case CALL_TARGET_NONE:
		break;
	}
	return MODEL_ALLOW_COUNT;
}

const char *call_target_flag_name(enum model_allow f)
{
	if (f >= MODEL_ALLOW_COUNT)
		return "";
	return model_endpoint_fields[MODEL_EP_ALLOW(f)].name;
}
