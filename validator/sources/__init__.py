"""Where clusters come from: YAML files and folders, standard input, and (webhook, --kubeconfig) the API."""
