from onemap.core.errors import Problem, bilingual


def test_pygeoapi_errors_get_chinese_and_the_field():
    body = bilingual(400, {"code": "InvalidParameterValue", "description": "Limit of 10000 exceeded"})
    assert body["field"] == "limit" and "limit" in body["message_zh"]
    assert body["message_en"] == "Limit of 10000 exceeded"
    assert body["description"].startswith(body["message_zh"])
    body = bilingual(400, {"description": "Bad CQL text"})
    assert body["field"] == "filter"


def test_unknown_messages_fall_back_to_the_status():
    assert bilingual(503, {"description": "something odd"})["message_zh"] == "服务暂不可用"


def test_problem_json_is_utf8_chinese():
    raw = Problem(401, "Unauthorized", "需要令牌", "token required", field="Authorization").to_json()
    assert "需要令牌".encode() in raw
