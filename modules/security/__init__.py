"""Security tier: keys, IAM, WAF, audit, threat detection and incident response, composed by
`modules.security.tier`."""
