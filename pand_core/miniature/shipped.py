"""SHA-256, size and recipe of each shipped weights file of the miniature.

Written by `python -m pand_core.miniature build`; a weights file that does not match is refused
(`artifacts.verified_path`). Do not edit by hand.
"""

SHIPPED = {'pand-mini-clip/open_clip_pytorch_model.bin': {'bytes': 17070067,
                                                'sha256': '35489e8f42ac6f223c69c4baa60500d4a5682f721ee96b53dd2a4d252b438357',
                                                'spec': {'augment': 0.75,
                                                         'batch_size': 64,
                                                         'draw_size': 64,
                                                         'epochs': 10,
                                                         'image_size': None,
                                                         'lr': 0.002,
                                                         'pairs': 20000,
                                                         'seed': 0,
                                                         'version': 9,
                                                         'warmup_steps': 100,
                                                         'weight_decay': 0.1}},
 'pand-mini-resnet/weights.pt': {'bytes': 644757,
                                 'sha256': '21c240b9650a7743579fab8c4b827ef7fb8483086f41f0c5d8490a66a57a2c34',
                                 'spec': {'arch': 'pand-mini-resnet',
                                          'batch_size': 64,
                                          'draw_size': 64,
                                          'epochs': 6,
                                          'held_out': 500,
                                          'image_size': 32,
                                          'images': 4000,
                                          'lr': 0.002,
                                          'seed': 0,
                                          'version': 3,
                                          'weight_decay': 0.05}}}
