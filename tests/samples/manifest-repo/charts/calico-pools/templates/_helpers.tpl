{{- define "calico-pools.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
{{- end }}
