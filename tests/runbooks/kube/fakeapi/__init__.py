"""A fake Kubernetes API server with controllers, checked against the real kubectl."""

from tests.runbooks.kube.fakeapi.cluster import NAMESPACE, FakeCluster

__all__ = ["NAMESPACE", "FakeCluster"]
