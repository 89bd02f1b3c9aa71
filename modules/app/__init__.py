"""Application tier: load balancer, compute (blue/green), the artifact store, composed by `modules.app.tier`."""
