"""成果质检 plan quality check: a submitted plan package checked against the
package specification (config/standards/plan-package*.yaml) in PostGIS."""
