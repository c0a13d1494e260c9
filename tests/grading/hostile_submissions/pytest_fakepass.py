# A pytest plugin a submission carries, hoping to be loaded (as a plugin or by shadowing an import).
raise SystemExit("the submission's own plugin was imported")
