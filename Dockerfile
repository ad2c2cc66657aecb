# Image of the ippool-validator webhook (and CLI), used by charts/ippool-validator.
#   docker build -t REGISTRY/ippool-validator:0.1.0 .
# Two stages: the package and its dependencies are installed into a virtualenv in the first, and only that
# virtualenv is copied into the second, which has no compiler, no pip and no build backend.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
WORKDIR /src
# .dockerignore lets in only what building the package needs.
COPY . .
# The webhook extra: serve, certs and lint --kubeconfig (the core install is only what lint needs).
RUN /opt/venv/bin/pip install '.[webhook]' \
 && /opt/venv/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/venv/bin/python -c 'import flask, gunicorn, prometheus_client, kubernetes, cryptography' \
 && /opt/venv/bin/ippool-validator --help >/dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ippool-validator" \
      org.opencontainers.image.description="Linter and validating admission webhook for Calico IP pools"
RUN python -m pip uninstall --yes --root-user-action=ignore pip setuptools wheel \
 && groupadd --system --gid 10001 ippool-validator \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin ippool-validator
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 19443
ENTRYPOINT ["ippool-validator"]
CMD ["--help"]
