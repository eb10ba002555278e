# Shard leases: the Redis scripts as data, their key names, the pure LeaseKeeper state machine, and the
# ClusterCoordinator that runs it all against Redis on the relay's loop.
target_sources(relay_cluster PRIVATE lease_keeper.cpp lease_keys.cpp lease_scripts.cpp trouble_log.cpp
                                     cluster_coordinator.cpp coordinator_services.cpp)
