"""公众参与 Public participation: plans under public notice (公示), citizens'
comments on them (意见征询) and reports of suspected violations (公众监督),
with the staff's moderation and triage. Plain functions over the
`supervision` schema; the gateway reaches them through `http.blueprint`
(config/components.yaml)."""
