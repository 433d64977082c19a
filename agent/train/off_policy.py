"""The arguments every off-policy coordination trainer (DDPG, TD3, SAC) reads from the agent
configuration; each trainer's own arguments extend them in its file (``DDPGArgs``,
``TD3Args``, ``SACArgs``), and a key of another trainer is refused when they are read
(``check_algorithm_keys``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.train.coordination_config import DeepCoordConfig, check_algorithm_keys


@dataclass
class OffPolicyArgs:
    gamma: float  # discount (``gamma``)
    tau: float  # soft target update rate (``target_model_update``)
    lr: float  # Adam learning rate of the critics (and actor, unless said otherwise)
    lr_decay: float  # Keras-style decay: lr / (1 + decay x updates) (``learning_rate_decay``)
    batch_size: int  # transitions per update (``batch_size``)
    buffer: int  # replay buffer size (``mem_limit``)
    warmup_critic: int  # steps before the first critic update (``nb_steps_warmup_critic``)
    warmup_actor: int  # steps before the first actor update (``nb_steps_warmup_actor``)
    critic_hidden: list[int]  # ``critic_hidden_layer_nodes``
    critic_activation: str  # ``critic_hidden_layer_activation``

    @staticmethod
    def shared(config: DeepCoordConfig, algorithm: str) -> dict[str, Any]:
        """The shared arguments as keywords, once ``config`` is checked for ``algorithm``."""
        check_algorithm_keys(config, algorithm)
        return {
            "gamma": config.gamma,
            "tau": config.target_model_update,
            "lr": config.learning_rate,
            "lr_decay": config.learning_rate_decay,
            "batch_size": config.batch_size,
            "buffer": config.mem_limit,
            "warmup_critic": config.nb_steps_warmup_critic,
            "warmup_actor": config.nb_steps_warmup_actor,
            "critic_hidden": list(config.critic_hidden_layer_nodes),
            "critic_activation": config.critic_hidden_layer_activation,
        }
