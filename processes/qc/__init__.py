"""成果质检 plan quality check: a plan package checked against the package
specification (config/standards/plan-package*.yaml) in PostGIS, each run
recorded (plan.qc_run), its reports and error layer made when asked for."""
