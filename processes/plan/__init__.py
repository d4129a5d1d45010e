"""成果管理 plan results management: submissions, publishing plan versions,
their history, and exporting a version as a package."""
